"""``ptag`` itself and ``get``/``set`` on any kernel: parsing, help, exit
statuses, one-line errors, and never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cli_run import ROOT, no_ptags, one_line, run_module

import ptag
from ptag.cli import main as ptag_main
from ptag.cli import ps as ptag_ps

SUBCOMMANDS = ("get", "set", "ps", "explain", "oci-hook")


def run(*args: str | bytes, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return run_module("ptag.cli.main", *args, input=input)


@pytest.mark.parametrize("sub", ("", *SUBCOMMANDS))
def test_help_everywhere(sub: str) -> None:
    args = [sub] if sub else []
    for flag in ("-h", "--help"):
        p = run(*args, flag)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith("usage: ptag")
        assert "Exit status:" in p.stdout
        assert p.stderr == ""


@pytest.mark.parametrize("argv", (["--help"], ["--help", "ps"], ["-h", "get"]))
def test_top_level_help_lists_every_command(argv: list[str]) -> None:
    p = run(*argv)
    assert p.returncode == 0, p.stderr
    for sub in SUBCOMMANDS:
        assert f"\n    {sub} " in p.stdout, (sub, p.stdout)


@pytest.mark.parametrize("argv", (["-", "get"], ["pss"], ["-1", "ps"]))
def test_bad_command_error_names_every_command(argv: list[str]) -> None:
    p = run(*argv)
    assert p.returncode == 2
    line = one_line(p.stderr)
    for sub in SUBCOMMANDS:
        assert f"'{sub}'" in line, line


@pytest.mark.parametrize("sub", ("", *SUBCOMMANDS))
def test_version_everywhere(sub: str) -> None:
    args = [sub] if sub else []
    for flag in ("-V", "--version"):
        p = run(*args, flag)
        assert p.returncode == 0
        assert p.stdout.startswith("ptag (ptag) ")


def test_help_fits_80_columns() -> None:
    for sub in ("", *SUBCOMMANDS):
        p = run(*([sub] if sub else []), "--help")
        for line in p.stdout.splitlines():
            assert len(line) <= 80, (sub, line)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "ptag: missing command; try 'ptag --help' for more information"),
        (("--bogus",), "ptag: unrecognized arguments: --bogus; try 'ptag --help'"),
        (("frobnicate",), "ptag: argument COMMAND: invalid choice: 'frobnicate'"),
        (("set", "a=b"), "ptag: the following arguments are required: -p/--pid"),
        (("set", "-p", "1"), "ptag: the following arguments are required: KEY=VALUE"),
        (("set", "-p", "x", "a=b"), "ptag: argument -p/--pid: invalid PID: 'x'"),
        (("set", "-p", "0", "a=b"), "ptag: argument -p/--pid: invalid PID: '0'"),
        (("set", "-p", "1", "novalue"), "ptag: invalid tag 'novalue': expected KEY=VALUE"),
        (("set", "-p", "1", "a b=c"), "ptag: invalid tag 'a b': invalid character ' '"),
        (("set", "-p", "1", "a=\x01"), "ptag: invalid tag 'a': invalid character"),
        (("set", "-p", "1", "a=1", "a=2"), "ptag: tag 'a' given twice with different values"),
        (("get", "a b"), "ptag: invalid key 'a b': invalid character ' '"),
        (("get", "-p", "-1"), "ptag: argument -p/--pid: invalid PID: '-1'"),
        (("explain",), "ptag: the following arguments are required: PID"),
        (("explain", "abc"), "ptag: argument PID: invalid PID: 'abc'"),
        (("explain", "1", "2"), "ptag: unrecognized arguments: 2"),
        (("ps", "-J", "-r"), "ptag: argument -r/--raw: not allowed with argument -J/--json"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...], message: str) -> None:
    p = run(*args)
    assert p.returncode == 2, p.stderr
    line = one_line(p.stderr)
    assert line.startswith(message), line
    assert "for more information" in line
    assert p.stdout == ""


@no_ptags
@pytest.mark.parametrize(
    "args",
    [("get",), ("get", "container.id"), ("get", "-p", "1"), ("set", "-p", "1", "a=b")],
)
def test_get_set_without_kernel_support(args: tuple[str, ...]) -> None:
    p = run(*args)
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert line.startswith("ptag: kernel lacks ptag support")
    assert "CONFIG_PTAG" in line
    assert p.stdout == ""


GARBAGE: list[tuple[str | bytes, ...]] = [
    ("",),
    ("-",),
    ("--",),
    ("ps", "-o", ""),
    ("ps", "-o", ","),
    ("ps", "-o", "+"),
    ("ps", "-o", "tag:"),
    ("ps", "-o", "tag:a b"),
    ("ps", "-o", "TAGS,PID"),
    ("ps", "-p", ""),
    ("ps", "-p", ","),
    ("ps", "-p", "abc"),
    ("ps", "-p", "0"),
    ("ps", "-p", "1,-2"),
    ("ps", "-p", "99999999999999999999999"),
    ("ps", "-p", "1" * 5000),
    ("ps", "-l", ""),
    ("ps", "-l", ","),
    ("ps", "-l", "=x"),
    ("ps", "-l", "!"),
    ("ps", "-l", "a\\"),
    ("ps", "-l", "a=\x01"),
    ("ps", "-l", "!=x"),
    (b"ps", b"-l", b"a=\xff"),
    (b"ps", b"-o", b"tag:\xff"),
    ("get", "\udcff"),
    (b"get", b"\xff"),
    ("get", "-p", "4194304999"),
    ("get", "k" * 65),
    ("set", "-p", "1", "=v"),
    ("set", "-p", "1", "k=" + "v" * 300),
    (b"set", b"-p", b"1", b"k=\xff"),
    ("explain", "0"),
    ("explain", "-5"),
    ("explain", "2147483648"),
    ("explain", "\udcff"),
    ("oci-hook", "--runtime", ""),
    ("oci-hook", "--runtime", "a\x01"),
    ("oci-hook", "--bogus"),
    ("ps", "--tree", "-J", "-p", "1"),
    ("ps", "-r", "-n", "-o", "pid,tags,owner,cgroup,tag:x"),
]


@pytest.mark.parametrize("args", GARBAGE)
def test_garbage_never_tracebacks(args: tuple[str | bytes, ...]) -> None:
    p = run(*args, input=b"")
    assert "Traceback" not in p.stderr
    assert "Exception" not in p.stderr
    lines = p.stderr.splitlines()
    # one error line; ps may add its one note about a kernel without ptags
    assert len(lines) <= (2 if args[:1] in (("ps",), (b"ps",)) else 1), p.stderr
    assert p.returncode in (0, 1, 2)
    for line in lines:
        assert line.startswith("ptag: ")


def test_internal_error_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(**_kw: object) -> object:
        raise RuntimeError("unexpected\nfailure")

    monkeypatch.setattr(ptag, "process_iter", boom)
    monkeypatch.setattr(ptag_ps, "_proc_shows_tags", lambda: True)  # no note
    assert ptag_main.main(["ps"]) == 1
    err = capsys.readouterr().err
    assert one_line(err) == "ptag: internal error: RuntimeError: unexpected failure"


def test_internal_error_in_explain(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(ptag, "supported", lambda: True)
    monkeypatch.setattr(ptag, "process_iter", lambda **_kw: iter([object()]))
    assert ptag_main.main(["explain", "1"]) == 1
    assert one_line(capsys.readouterr().err).startswith("ptag: internal error: AttributeError")


def test_keyboard_interrupt_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(**_kw: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(ptag, "process_iter", interrupted)
    monkeypatch.setattr(ptag_ps, "_proc_shows_tags", lambda: True)  # no note
    assert ptag_main.main(["ps"]) == 130
    assert capsys.readouterr().err == ""


def test_not_supported_error_from_library(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # supported() said yes, but the call found out otherwise
    def refuse(*_a: object, **_kw: object) -> object:
        raise ptag.NotSupportedError()

    monkeypatch.setattr(ptag, "supported", lambda: True)
    monkeypatch.setattr(ptag, "tags", refuse)
    assert ptag_main.main(["get"]) == 1
    assert one_line(capsys.readouterr().err).startswith("ptag: kernel lacks ptag support")


def test_broken_pipe_is_quiet() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "libptag"))
    p = subprocess.run(
        f"{sys.executable} -m ptag.cli.main ps -w -o pid,comm,cgroup,comm,cgroup,comm | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert p.stdout.startswith("  PID") or p.stdout.startswith("PID")
    assert "Traceback" not in p.stderr
    assert "Broken pipe" not in p.stderr
    assert "Exception ignored" not in p.stderr


def test_broken_pipe_status(monkeypatch: pytest.MonkeyPatch) -> None:
    # a reader that is already gone: the write fails, ptag ends quietly with 141
    r, w = os.pipe()
    os.close(r)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "libptag"))
    try:
        p = subprocess.run(
            [sys.executable, "-m", "ptag.cli.main", "ps"],
            stdout=w,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=env,
        )
    finally:
        os.close(w)
    assert p.returncode == 141
    assert "Traceback" not in p.stderr
    assert "Exception ignored" not in p.stderr


def test_write_error_is_one_line() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "libptag"))
    with open("/dev/full", "w") as full:
        p = subprocess.run(
            [sys.executable, "-m", "ptag.cli.main", "ps"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=env,
        )
    assert p.returncode == 1
    lines = [ln for ln in p.stderr.splitlines() if "note:" not in ln]
    assert lines == ["ptag: write error: No space left on device"]


def test_module_is_runnable_and_imports_nothing_heavy() -> None:
    # ptag.cli must not import main/exec itself (python -m would warn)
    p = run("ps", "-p", str(os.getpid()))
    assert "RuntimeWarning" not in p.stderr
    assert ptag_ps.DEFAULT_COLUMNS[0] == "pid"


@pytest.mark.parametrize("tty_columns", [None, 0, 123])
@pytest.mark.parametrize("env", [None, "", "0", "-3", "junk", "57"])
def test_help_width_is_shutils(env: str | None, tty_columns: int | None) -> None:
    """The help formatter measures the terminal as argparse does (with shutil, which
    it then never imports): on a pipe or a terminal, whatever $COLUMNS says."""
    import fcntl
    import pty
    import struct
    import termios

    code = (
        "import shutil, sys\n"
        "from ptag.cli import _common\n"
        "print(_common.terminal_columns(), shutil.get_terminal_size().columns, file=sys.stderr)\n"
    )
    environ = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if env is not None:
        environ["COLUMNS"] = env
    environ["PYTHONPATH"] = str(ROOT / "libptag")
    master = slave = None
    try:
        if tty_columns is not None:
            master, slave = pty.openpty()
            size = struct.pack("HHHH", 24, tty_columns, 0, 0)
            fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
        p = subprocess.run(
            [sys.executable, "-c", code],
            stdout=slave if slave is not None else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
            timeout=60,
            check=True,
        )
    finally:
        for fd in (master, slave):
            if fd is not None:
                os.close(fd)
    ours, theirs = p.stderr.split()
    assert ours == theirs
