"""Terminal-safe display: the escape notation of :func:`ptag.cli.output.escape`,
and every human-readable output of ``ptag`` and ``ptag-exec`` written through it
(``ps`` tables, ``get``, ``explain``, ``oci-hook --dry-run``, error messages),
with hostile values read from a synthetic /proc; ``-J`` and ``-r`` stay exact.

A value may hold any byte but C0 and DEL, so C1 controls, bidirectional
overrides, invisible characters and bytes that are not UTF-8 reach the tools; a
command name may even hold ESC.  The host kernel has no ptags, so the commands
run in-process on a /proc tree written to a temporary directory (``fake_proc``),
through the library's real parser, or as a new interpreter where no kernel is
involved.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_run import ROOT, one_line, run_module
from hypothesis import given
from hypothesis import strategies as st

import ptag
from ptag.cli import _common, output, ps
from ptag.cli import main as ptag_main
from ptag.cli.output import Column, Node

# --- the notation, as a reader decodes it (the specification of escape()) -------------

_TOKEN = re.compile(r"\\(?:(\\)|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))")


def unescape(text: str) -> str:
    """Read escaped text back, left to right: ``\\\\`` is a backslash, ``\\xHH`` a
    control byte (00-1f, 7f) or a byte 80-ff that is not UTF-8 (as surrogateescape
    decodes it), ``\\uHHHH`` and ``\\UHHHHHHHH`` a code point; any other backslash
    stands for itself (so ``\\x2d`` is four characters)."""

    def one(m: re.Match[str]) -> str:
        backslash, byte, u4, u8 = m.groups()
        if backslash:
            return "\\"
        if byte is not None:
            b = int(byte, 16)
            if b < 0x20 or b == 0x7F:
                return chr(b)
            if b >= 0x80:
                return chr(0xDC00 + b)
            return m.group(0)  # a printable byte is never escaped: literal text
        return chr(int(u4 or u8, 16))

    return _TOKEN.sub(one, text)


def safe(text: str) -> bool:
    """Nothing in ``text`` that a terminal misrenders: printable, no Hangul filler."""
    return text.isprintable() and not any(c in text for c in "\u115f\u1160\u3164\uffa0")


# --- hostile values: (what the kernel holds, what a human is shown) --------------------

RLO = "invoice\u202etxt.exe"  # displays as "invoiceexe.txt"
HOSTILE: list[tuple[str, bytes, str]] = [
    ("rlo", RLO.encode(), "invoice\\u202etxt.exe"),
    ("csi", "a\u009b31mred".encode(), "a\\u009b31mred"),  # C1 CSI, valid UTF-8
    ("rawcsi", b"a\x9b31mred", "a\\x9b31mred"),  # the raw byte 0x9b: not UTF-8
    ("invalid", b"\xff\xfe\xe2\x80", "\\xff\\xfe\\xe2\\x80"),  # bytes, a cut sequence
    ("overlong", b"\xc0\xaf", "\\xc0\\xaf"),  # an overlong '/'
    ("surrogate", b"\xed\xa0\x80", "\\xed\\xa0\\x80"),  # UTF-8 of U+D800: not UTF-8
    ("zwj", "a\u200db\u200bc\u2060d".encode(), "a\\u200db\\u200bc\\u2060d"),
    (
        "isolates",
        "\u2066x\u2069\u2067y\u2069\u200e\u200f\u061c".encode(),
        "\\u2066x\\u2069\\u2067y\\u2069\\u200e\\u200f\\u061c",
    ),
    ("embed", "\u202a\u202b\u202c\u202d".encode(), "\\u202a\\u202b\\u202c\\u202d"),
    ("bom", "\ufeffx\u00ad".encode(), "\\ufeffx\\u00ad"),
    ("spaces", "a\u00a0b\u2028c\u3000d".encode(), "a\\u00a0b\\u2028c\\u3000d"),
    ("tagchars", "x\U000e0041\U000e007f".encode(), "x\\U000e0041\\U000e007f"),
    ("filler", "\u3164\u115f".encode(), "\\u3164\\u115f"),
    ("nul_like", "\u2400".encode(), "\u2400"),  # the SYMBOL FOR NULL is printable
    ("accent", "e\u0301a\u0308".encode(), "e\u0301a\u0308"),  # combining marks stay
    ("cjk", "漢字かな".encode(), "漢字かな"),
    ("emoji", "😀👍🏽✈️".encode(), "😀👍🏽✈️"),  # modifier and VS16 stay
    ("systemd", b"a\\x2db", "a\\x2db"),  # a backslash that is no escape stays single
    ("backslash", b"C:\\x9b\\\\", "C:\\\\x9b\\\\\\"),  # ... and doubled where it would be
    ("plain", b"web-1", "web-1"),
]


@pytest.mark.parametrize(("name", "raw", "shown"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_escape_hostile(name: str, raw: bytes, shown: str) -> None:
    text = raw.decode("utf-8", "surrogateescape")  # as the library decodes
    assert output.escape(text) == shown
    assert safe(output.escape(text))
    assert unescape(output.escape(text)) == text
    assert unescape(shown).encode("utf-8", "surrogateescape") == raw


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\x1b[2Jb", "a\\x1b[2Jb"),  # ESC: not in a value, but in a comm
        ("\x00\x07\x08\t\n\r\x7f", "\\x00\\x07\\x08\\x09\\x0a\\x0d\\x7f"),
        ("\x80\x9f", "\\u0080\\u009f"),
        ("\ud800\udc7f\udd00", "\\ud800\\udc7f\\udd00"),  # lone surrogates, not bytes
        ("\ue000\U000f0000", "\\ue000\\U000f0000"),  # private use
        ("\\", "\\"),
        ("\\\\", "\\\\\\"),
        ("\\\u202e", "\\\\\\u202e"),  # a backslash before an escape
        ("\\u202e", "\\\\u202e"),  # text that looks like an escape
        ("\\U0001f600 \\u12", "\\\\U0001f600 \\u12"),
        ("\\x7F\\x7g\\x20", "\\\\x7F\\x7g\\x20"),
        ("", ""),
    ],
)
def test_escape_cases(text: str, shown: str) -> None:
    assert output.escape(text) == shown
    assert unescape(shown) == text


def test_every_code_point() -> None:
    """Each code point alone, and after a backslash: shown as itself only when it
    is printable (and not a filler), else as an escape of printable ASCII; always
    read back exactly."""
    for cp in range(0x110000):
        ch = chr(cp)
        shown = output.escape(ch)
        if shown != ch:
            assert shown.isascii() and shown.isprintable() and shown[0] == "\\", hex(cp)
        else:
            assert safe(ch), hex(cp)
        assert unescape(shown) == ch, hex(cp)
        if cp % 7 == 0:
            assert unescape(output.escape("\\" + ch)) == "\\" + ch, hex(cp)


_PIECES = st.one_of(
    st.characters(),
    st.sampled_from(
        [
            "\\",
            "x",
            "u",
            "U",
            "9b",
            "7f",
            "2d",
            "202e",
            "0001f600",
            "\udc9b",
            "\ud800",
            "\u202e",
            "\x1b",
            "\u009b",
            "\u200d",
            "\u3164",
            "é",
            "漢",
            "😀",
            "\u0301",
        ]
    ),
)


@given(st.lists(_PIECES, max_size=40).map("".join))
def test_escape_reversible_and_safe(text: str) -> None:
    shown = output.escape(text)
    assert safe(shown)
    assert unescape(shown) == text
    if output.is_plain(text):
        assert shown is text  # the fast path returns its argument
    # a table cell: one escape of the whole, widths of the escaped text
    (line,) = output.render_table([Node({"v": text})], [_col("v")], headings=False, wide=True)
    assert line == shown.rstrip()


def test_plain_text_is_returned_as_is() -> None:
    for text in ("", "web", "/system.slice/x.scope", "漢字 😀", "e\u0301"):
        assert output.is_plain(text)
        assert output.escape(text) is text
    for text in ("a\\b", "\u202e", "\x1b", "\udc9b", "\u3164"):
        assert not output.is_plain(text)


def test_one_line_formatter() -> None:
    assert _common.one_line("a\nb") == "a b"
    assert _common.one_line(f"value '{RLO}' \x1b[31m") == "value 'invoice\\u202etxt.exe' \\x1b[31m"


def test_warn_escapes(capsys: pytest.CaptureFixture[str]) -> None:
    _common.warn("ptag", "bad 'x\u009b\udcff'")
    assert capsys.readouterr().err == "ptag: bad 'x\\u009b\\xff'\n"


def test_json_is_exact_and_terminal_safe() -> None:
    doc = {"k": "".join(raw.decode("utf-8", "surrogateescape") for _, raw, _ in HOSTILE)}
    text = output.dumps(doc)
    assert json.loads(text) == doc
    assert all(safe(line) for line in text.split("\n"))
    assert "漢字かな" in text and "e\u0301" in text  # readable text stays readable
    assert "\\u202e" in text and "\\udc9b" in text and "\\udb40\\udc41" in text


def test_raw_format_is_lossless() -> None:
    """``ps -r``'s libsmartcols encoding: every hostile value decodes to its bytes."""
    for _, raw, _ in HOSTILE:
        enc = output.raw_escape(raw.decode("utf-8", "surrogateescape"))
        assert safe(enc) and " " not in enc
        assert _unraw(enc) == raw


def _unraw(text: str) -> bytes:
    out = bytearray()
    for part in re.split(r"(\\x[0-9a-f]{2})", text):
        if part.startswith("\\x") and len(part) == 4:
            out.append(int(part[2:], 16))
        else:
            out += part.encode("utf-8", "surrogateescape")
    return bytes(out)


def _col(name: str, **kw: object) -> Column:
    return Column(name, name.upper(), lambda r: str(r[name]), lambda r: r[name], **kw)  # type: ignore[arg-type]


def test_table_widths_are_the_escaped_texts() -> None:
    """A column holding escapes is padded by the escaped text's width, so the next
    column starts at the same cell on every line; a cut keeps the ellipsis."""
    rows = [
        {"v": RLO, "n": 1},
        {"v": "\u200d", "n": 22},
        {"v": "漢字\u0301", "n": 333},
        {"v": "plain", "n": 4444},
    ]
    lines = output.render_table(
        [Node(r) for r in rows], [_col("v"), _col("n", right=True)], stream=_Tty()
    )
    assert lines == [
        "V                       N",
        "invoice\\u202etxt.exe    1",
        "\\u200d                 22",
        "漢字\u0301" + " " * 18 + "333",
        "plain" + " " * 16 + "4444",
    ]
    assert {output.text_width(line) for line in lines} == {25}
    cut = output.render_table(
        [Node(r) for r in rows],
        [_col("v", truncate="right", min_width=4), _col("n", right=True)],
        width=15,
        stream=_Tty(),
    )
    assert cut[1] == "invoice…      1"  # an escape is cut whole, never split
    assert all(safe(line) for line in cut)


@pytest.mark.parametrize(
    ("text", "width", "side", "cut"),
    [
        ("invoice\\u202etxt.exe", 10, "right", "invoice…"),
        ("invoice\\u202etxt.exe", 14, "right", "invoice\\u202e…"),
        ("/a/b\\u202e/cd", 8, "left", "…/cd"),
        ("/a/b\\u202e/cd", 10, "left", "…\\u202e/cd"),
        ("C:\\\\\\x9b", 4, "right", "C:…"),  # a doubled backslash is one unit
        ("x\\U0001f600yz", 12, "right", "x\\U0001f600…"),
        ("x\\U0001f600yz", 11, "right", "x…"),
        ("a\\x2dbcdef", 5, "right", "a\\x2…"),  # no escape: ordinary characters
    ],
)
def test_cut_keeps_escapes_whole(text: str, width: int, side: str, cut: str) -> None:
    assert output.truncate(text, width, side=side) == cut
    assert output.text_width(cut) <= width


class _Tty(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


# --- the commands, on a synthetic /proc ------------------------------------------------

STAT = b"%d (%s) S %d 42 42 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 5 1 1 18446744073709551615\n"
COMM = b"ev\x1b[1mil\x9b"  # ESC and a raw byte: comm is any 15 bytes
COMM_SHOWN = "ev\\x1b[1mil\\x9b"
CGROUP = b"0::/system.slice/system-systemd\\x2dfsck.slice/\xe2\x80\xaeevil\n"
CGROUP_SHOWN = "/system.slice/system-systemd\\x2dfsck.slice/\\u202eevil"
PID = 4242


def _ptags() -> bytes:
    return b"".join(b"0 %s=%s\n" % (name.encode(), raw) for name, raw, _ in HOSTILE)


@pytest.fixture
def fake_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A /proc with init and one process whose comm, tags and cgroup are hostile;
    every open and stat of /proc... goes there instead.  The kernel "supports" ptags."""
    root = tmp_path / "proc"
    files = {
        "self/ptags": b"",
        "self/cgroup": b"0::/\n",
        "1/stat": STAT % (1, b"init", 0),
        "1/ptags": b"",
        "1/cgroup": b"0::/init.scope\n",
        f"{PID}/stat": STAT % (PID, COMM, 1),
        f"{PID}/ptags": _ptags(),
        f"{PID}/cgroup": CGROUP,
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)

    def moved(path: object) -> object:
        if isinstance(path, str) and (path == "/proc" or path.startswith("/proc/")):
            return str(root) + path[len("/proc") :]
        return path

    real_open, real_stat = os.open, os.stat

    def fake_open(path: object, *args: object, **kw: object) -> int:
        return real_open(moved(path), *args, **kw)  # type: ignore[arg-type]

    def fake_stat(path: object, *args: object, **kw: object) -> os.stat_result:
        return real_stat(moved(path), *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "stat", fake_stat)
    monkeypatch.setattr(ptag, "supported", lambda: True)
    monkeypatch.setattr(ps, "_proc_shows_tags", lambda: True)
    # get reads by system call; here from the same file, through the same parser
    monkeypatch.setattr(ptag, "tags", lambda pid=None, **_: ptag.read_proc_tags(pid or "self"))
    monkeypatch.setenv("COLUMNS", "200")
    return root


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = ptag_main.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_library_decodes_with_surrogateescape(fake_proc: Path) -> None:
    """What the tools get: str, with each byte that is not UTF-8 as U+DC80-U+DCFF."""
    info = next(i for i in ptag.process_iter() if i.pid == PID)
    assert info.comm == COMM.decode("utf-8", "surrogateescape")
    assert "\udc9b" in info.comm
    for name, raw, _ in HOSTILE:
        assert info.tags[name].value.encode("utf-8", "surrogateescape") == raw


def test_ps_table(fake_proc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "ps", "-w", "-o", "pid,comm,tags,cgroup,tag:rlo,tag:rawcsi")
    assert (status, err) == (0, "")
    head, init, line = out.splitlines()
    assert all(safe(x) for x in (head, init, line))
    cells = [
        str(PID),
        COMM_SHOWN,
        ",".join(f"{name}={shown}" for name, _, shown in HOSTILE),
        CGROUP_SHOWN,
        "invoice\\u202etxt.exe",
        "a\\x9b31mred",
    ]
    assert line.split() == cells
    # aligned on the escaped text: each cell starts in the cell column of its heading
    for heading, cell in zip(("CGROUP", "rlo", "rawcsi"), cells[3:]):
        column = output.text_width(head[: head.index(heading)])
        assert output.text_width(line[: line.rindex(cell)]) == column
    assert output.text_width(init[: init.index("/init.scope")]) == output.text_width(
        head[: head.index("CGROUP")]
    )


def test_ps_table_cuts_escaped_text(
    fake_proc: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    status, out, _ = _run(capsys, "ps", "-o", "pid,comm,tags")
    assert status == 0
    lines = out.splitlines()
    assert all(safe(x) and output.text_width(x) <= 60 for x in lines)
    assert lines[2].startswith(f"{PID} {COMM_SHOWN} rlo=invoice\\u202etxt.exe,csi=")
    assert lines[2].endswith("…")


def test_ps_tree(fake_proc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "ps", "--tree", "-o", "pid,comm,tag:rlo")
    assert status == 0
    assert out.splitlines()[2].split() == [str(PID), "└─" + COMM_SHOWN, "invoice\\u202etxt.exe"]


def test_ps_json_exact(fake_proc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "ps", "-J", "-o", "pid,comm,tags,cgroup")
    assert status == 0
    assert all(safe(line) for line in out.split("\n"))
    row = json.loads(out)["processes"][1]
    assert row["comm"].encode("utf-8", "surrogateescape") == COMM
    assert (row["cgroup"] + "\n").encode("utf-8", "surrogateescape") == CGROUP[3:]
    for name, raw, _ in HOSTILE:
        assert row["tags"][name].encode("utf-8", "surrogateescape") == raw


def test_ps_raw_exact(fake_proc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "ps", "-r", "-n", "-p", str(PID), "-o", "comm,tag:invalid")
    assert status == 0
    comm, value = out.split()
    assert _unraw(comm) == COMM
    assert _unraw(value) == b"\xff\xfe\xe2\x80"


def test_get_escapes(fake_proc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "get", "-p", str(PID))
    assert (status, err) == (0, "")
    assert out == "".join(f"{name}={shown}\n" for name, _, shown in HOSTILE)
    status, out, _ = _run(capsys, "get", "-p", str(PID), "rlo", "rawcsi", "cjk")
    assert out == "invoice\\u202etxt.exe\na\\x9b31mred\n漢字かな\n"


def test_get_raw_and_json_exact(
    fake_proc: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert ptag_main.main(["get", "-r", "-p", str(PID)]) == 0
    assert capsysbinary.readouterr().out == _ptags().replace(b"0 ", b"")
    assert ptag_main.main(["get", "--raw", "-p", str(PID), "rawcsi", "rlo"]) == 0
    assert capsysbinary.readouterr().out == b"a\x9b31mred\n" + RLO.encode() + b"\n"
    assert ptag_main.main(["get", "-J", "-p", str(PID)]) == 0
    text = capsysbinary.readouterr().out.decode()
    assert all(safe(line) for line in text.split("\n"))
    doc = json.loads(text)
    for name, raw, _ in HOSTILE:
        assert doc["tags"][name].encode("utf-8", "surrogateescape") == raw


def test_get_raw_and_json_exclusive(fake_proc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "get", "-r", "-J")[0] == 2


def test_explain(fake_proc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "explain", str(PID))
    assert status == 0
    lines = out.splitlines()
    assert all(safe(line) for line in lines)
    assert lines[0].startswith(f"process {PID} ({COMM_SHOWN}), user ")
    assert lines[1] == f"cgroup  {CGROUP_SHOWN}"
    width = max(len(name) for name, _, _ in HOSTILE)
    for name, _, shown in HOSTILE:
        assert f"  {name:<{width}}  {shown}  (set by " in out


def test_explain_verdict_escapes_the_names(
    fake_proc: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (fake_proc / f"{PID}/ptags").write_bytes(
        b"0 container.id=\xe2\x80\xae1234\n0 container.name=w\xc2\x9beb\n0 container.runtime=\x9b\n"
    )
    status, out, _ = _run(capsys, "explain", str(PID))
    assert status == 0
    verdict = out.splitlines()[-1]
    assert verdict == (
        "verdict: tags only: the tags say \\x9b container \\u202e1234 (w\\u009beb); "
        "the cgroup path matches no known runtime, so a heuristic would miss it"
    )
    status, out, _ = _run(capsys, "explain", "-J", str(PID))
    doc = json.loads(out)
    assert doc["tags"]["container.runtime"] == "\udc9b"
    assert doc["comm"].encode("utf-8", "surrogateescape") == COMM
    assert all(safe(line) for line in out.split("\n"))


def test_set_message_quotes_the_current_value_escaped(
    fake_proc: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``already set to '...'`` quotes what the kernel holds: escaped, on one line."""
    current = b"a\x9b\xe2\x80\xae".decode("utf-8", "surrogateescape")

    def refuse(key: str, value: str, **kw: object) -> None:
        raise ptag.error_from_errno(17, key=key, pid=os.getpid())

    monkeypatch.setattr(ptag, "set", refuse)
    monkeypatch.setattr(ptag, "get", lambda key, **kw: current)
    status, out, err = _run(capsys, "set", "-p", str(os.getpid()), "k=v")
    assert (status, out) == (1, "")
    assert one_line(err) == (
        f"ptag: cannot set tag 'k' on PID {os.getpid()}: already set to 'a\\x9b\\u202e' "
        "(tags can never be changed or removed)"
    )


# --- the other programs' messages, as a user runs them -----------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # the command named is quoted: ESC, a title-setting OSC, a raw byte
        (
            ("--", b"\x1b]0;pwned\x07\xff"),
            "ptag-exec: failed to execute '\\x1b]0;pwned\\x07\\xff': No such file or directory",
        ),
        (("-t", "k\u202eoops", "true"), "ptag-exec: cannot set tag 'k\\u202eoops': expected"),
        # a file name that is not UTF-8 (argv arrives surrogate-escaped)
        (
            ("--tags-from", b"/nonexistent/\x9b\xe2\x80\xae", "true"),
            "ptag-exec: cannot read '/nonexistent/\\x9b\\u202e': No such file or directory",
        ),
    ],
)
def test_exec_messages(args: tuple[str | bytes, ...], message: str) -> None:
    p = run_module("ptag.cli.exec", *args)
    line = one_line(p.stderr)
    assert safe(line)
    assert line.startswith(message)


def _state(annotations: dict[str, object]) -> bytes:
    return json.dumps(
        {"ociVersion": "1.0.2", "id": "c1", "pid": 1, "annotations": annotations}
    ).encode()


def test_oci_hook_dry_run_escapes() -> None:
    state = _state({"org.ptag.tag.name": RLO, "org.ptag.tag.csi": "a\u009b31m"})
    p = run_module("ptag.cli.main", "oci-hook", "--dry-run", input=state)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "name=invoice\\u202etxt.exe" in lines
    assert "csi=a\\u009b31m" in lines
    assert all(safe(line) for line in lines)


def test_oci_hook_error_quotes_escaped() -> None:
    state = _state({"\x1b[2J\u202eevil": 7})
    p = run_module("ptag.cli.main", "oci-hook", "--dry-run", input=state)
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert "annotation '\\x1b[2J\\u202eevil' is not a string" in line
    assert safe(line)


def test_usage_error_quotes_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "ps", "-l", "a=\u202e\x1b")
    assert status == 2
    assert "\\u202e" in err and "\\x1b" in err and safe(one_line(err))


def test_internal_error_is_escaped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(**_kw: object) -> Iterator[object]:
        raise RuntimeError("value \u202e\x9b")

    monkeypatch.setattr(ptag, "process_iter", boom)
    monkeypatch.setattr(ps, "_proc_shows_tags", lambda: True)
    status, _, err = _run(capsys, "ps")
    assert status == 1
    assert one_line(err) == "ptag: internal error: RuntimeError: value \\u202e\\u009b"


def test_non_utf8_terminal_gets_the_same_notation() -> None:
    """On a stream that cannot encode a character (here ASCII), it is written as
    escape() writes what it escapes (``\\u00e9``), not as Python's backslashreplace
    would (``\\xe9``, which the notation reads as a byte that is not UTF-8)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "libptag"), PYTHONIOENCODING="ascii")
    cmd = [sys.executable, "-m", "ptag.cli.exec", "--", "café\u202e漢😀"]
    p = subprocess.run(cmd, capture_output=True, env=env, timeout=60)
    assert p.returncode == 127
    line = p.stderr.decode("ascii")
    assert line == (
        "ptag-exec: failed to execute 'caf\\u00e9\\u202e\\u6f22\\U0001f600': "
        "No such file or directory\n"
    )
    assert (
        unescape(line)
        == "ptag-exec: failed to execute 'café\u202e漢😀': No such file or directory\n"
    )
