"""ptag-exec on any kernel: option parsing, exit statuses, messages.

Runs ``python -m ptag.cli.exec`` in subprocesses; nothing here sets a tag in
the pytest process.  Tests that need the host kernel to lack ptags skip on a
ptag kernel (the VM has its own tests).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import ROOT, no_ptags, one_line, run_module

import ptag
from ptag.cli import exec as ptag_exec


def run(
    *args: str | bytes, input: bytes | None = None, cwd: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run_module("ptag.cli.exec", *args, input=input, cwd=cwd)


def test_help_and_version() -> None:
    for flag in ("-h", "--help"):
        p = run(flag)
        assert p.returncode == 0
        assert p.stdout.startswith("Usage:")
        assert "Exit status:" in p.stdout
        assert "--tags-from" in p.stdout
        assert p.stderr == ""
    for flag in ("-V", "--version"):
        p = run(flag)
        assert p.returncode == 0
        assert p.stdout.startswith("ptag-exec (ptag) ")


def test_no_tags_just_execs() -> None:
    p = run("--", sys.executable, "-c", "print('hi')")
    assert (p.returncode, p.stdout, p.stderr) == (0, "hi\n", "")


def test_command_status_passes_through() -> None:
    assert run("sh", "-c", "exit 7").returncode == 7


def test_parsing_stops_at_first_non_option() -> None:
    # -t after the command belongs to the command, and so does --help
    p = run("sh", "-c", 'echo "$@"', "sh", "-t", "x", "--help")
    assert (p.returncode, p.stdout) == (0, "-t x --help\n")


def test_double_dash() -> None:
    p = run("--", "echo", "-t")
    assert (p.returncode, p.stdout) == (0, "-t\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--bogus", "true"), "ptag-exec: unrecognized option '--bogus'"),
        (("-x", "true"), "ptag-exec: invalid option -- 'x'"),
        (("-t",), "ptag-exec: option '-t' requires an argument"),
        (("--tag",), "ptag-exec: option '--tag' requires an argument"),
        (("--exist-ok=1", "true"), "ptag-exec: option '--exist-ok' doesn't allow an argument"),
        (("--ta", "a=b", "true"), "ptag-exec: option '--ta' is ambiguous"),
        ((), "ptag-exec: no command specified"),
        (("-t", "a=b"), "ptag-exec: no command specified"),
        (("--",), "ptag-exec: no command specified"),
    ],
)
def test_usage_errors_exit_125(args: tuple[str, ...], message: str) -> None:
    p = run(*args)
    assert p.returncode == 125
    assert one_line(p.stderr).startswith(message)
    assert p.stdout == ""


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("novalue", "ptag-exec: cannot set tag 'novalue': expected KEY=VALUE"),
        ("=v", "ptag-exec: cannot set tag '=v': empty key"),
        ("a b=c", "ptag-exec: cannot set tag 'a b': invalid character ' '"),
        ("-a=c", "ptag-exec: cannot set tag '-a': invalid first character '-'"),
        ("k=a\x01b", "ptag-exec: cannot set tag 'k': invalid character"),
        ("k=a\x7fb", "ptag-exec: cannot set tag 'k': invalid character"),
        ("k" * 65 + "=v", "ptag-exec: cannot set tag '" + "k" * 65 + "':"),
        ("k=" + "v" * 257, "ptag-exec: cannot set tag 'k':"),
    ],
)
def test_invalid_tags_exit_125_and_never_run(tag: str, message: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    p = run("-t", "ok=1", "-t", tag, "touch", str(marker))
    assert p.returncode == 125
    assert one_line(p.stderr).startswith(message)
    assert not marker.exists()


def test_non_utf8_argument() -> None:
    p = run(b"-t", b"k=\xff\xfe", b"true")
    assert p.returncode == 125
    assert one_line(p.stderr).startswith("ptag-exec: cannot set tag 'k':")


def test_same_key_twice() -> None:
    p = run("-t", "a=1", "-t", "a=2", "true")
    assert p.returncode == 125
    assert one_line(p.stderr) == (
        "ptag-exec: cannot set tag 'a': given twice with different values"
    )


def test_too_many_tags(tmp_path: Path) -> None:
    args: list[str] = []
    for i in range(ptag.MAX_TAGS + 1):
        args += ["-t", f"k{i}=v"]
    p = run(*args, "true")
    assert p.returncode == 125
    assert "too many tags" in one_line(p.stderr)


def test_tags_from_file_errors(tmp_path: Path) -> None:
    f = tmp_path / "tags"
    f.write_text("# runtime tags\n\na=b\n   \n  # indented comment\nbroken\n")
    p = run("--tags-from", str(f), "true")
    assert p.returncode == 125
    assert one_line(p.stderr) == f"ptag-exec: cannot set tag 'broken': expected KEY=VALUE ({f}:6)"

    p = run("--tags-from", str(tmp_path / "missing"), "true")
    assert p.returncode == 125
    assert one_line(p.stderr) == (
        f"ptag-exec: cannot read '{tmp_path / 'missing'}': No such file or directory"
    )

    p = run("--tags-from", str(tmp_path), "true")
    assert p.returncode == 125
    assert one_line(p.stderr).startswith(f"ptag-exec: cannot read '{tmp_path}':")

    f.write_bytes(b"a=\xff\n")
    p = run("--tags-from", str(f), "true")
    assert p.returncode == 125
    assert "not valid UTF-8" in one_line(p.stderr)


def test_tags_from_stdin_errors() -> None:
    p = run("--tags-from", "-", "true", input=b"a=b\nc d=e\n")
    assert p.returncode == 125
    assert one_line(p.stderr).startswith("ptag-exec: cannot set tag 'c d':")
    assert "(stdin:2)" in p.stderr
    p = run("--tags-from", "-", "--tags-from", "-", "true", input=b"")
    assert p.returncode == 125
    assert "more than once" in one_line(p.stderr)


def test_tags_from_parser(tmp_path: Path) -> None:
    f = tmp_path / "tags"
    f.write_text("# c\n\nx=1\n  \ny=two words \r\nz=\n")
    opts = ptag_exec.parse_args(["-t", "a=b", "--tags-from", str(f), "-t", "c=d", "cmd", "-t"])
    assert [(k, v) for k, v, _ in opts.tags] == [
        ("a", "b"),
        ("x", "1"),
        ("y", "two words "),
        ("z", ""),
        ("c", "d"),
    ]
    assert opts.command == ["cmd", "-t"]


def test_check_tags_dedupes_identical() -> None:
    tags = [("a", "1", ""), ("b", "2", ""), ("a", "1", "")]
    assert ptag_exec.check_tags(tags) == [("a", "1"), ("b", "2")]


@no_ptags
def test_no_kernel_support_exit_125(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    p = run("-t", "container.id=abc", "touch", str(marker))
    assert p.returncode == 125
    line = one_line(p.stderr)
    assert line.startswith("ptag-exec: kernel lacks ptag support")
    assert "CONFIG_PTAG" in line
    assert not marker.exists()


def test_command_not_found_127() -> None:
    p = run("--", "/nonexistent/ptag-test-command")
    assert p.returncode == 127
    assert one_line(p.stderr) == (
        "ptag-exec: failed to execute '/nonexistent/ptag-test-command': No such file or directory"
    )
    p = run("ptag-test-command-not-on-path")
    assert p.returncode == 127


def test_command_cannot_run_126(tmp_path: Path) -> None:
    script = tmp_path / "noexec"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    p = run(str(script))
    assert p.returncode == 126
    assert one_line(p.stderr) == f"ptag-exec: failed to execute '{script}': Permission denied"
    p = run(str(tmp_path))  # a directory
    assert p.returncode == 126
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\x01\x02not an executable")
    garbage.chmod(0o755)
    p = run(str(garbage))
    assert p.returncode == 126
    assert "Exec format error" in one_line(p.stderr)


def test_signals_restored_for_command() -> None:
    # Python ignores SIGPIPE and SIGXFSZ; the command must not inherit that
    p = run("grep", "SigIgn", "/proc/self/status")
    assert p.returncode == 0
    mask = int(p.stdout.split()[1], 16)
    assert not mask & (1 << (13 - 1)), "SIGPIPE left ignored"
    assert not mask & (1 << (25 - 1)), "SIGXFSZ left ignored"


def test_yes_head_terminates() -> None:
    p = subprocess.run(
        f"{sys.executable} -m ptag.cli.exec yes | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "libptag")),
    )
    assert p.stdout == "y\n"
    assert p.stderr == ""


GARBAGE: list[tuple[str | bytes, ...]] = [
    ("-",),
    ("--",),
    ("-t", ""),
    ("-t", "="),
    ("-t", "=="),
    ("-t", "a=b=c", "--tags-from"),
    ("--tags-from", ""),
    ("--tags-from", "/dev/null"),
    ("-t", "\udcff=x", "true"),
    (b"-t", b"\xff=x", b"true"),
    ("-t", "a=\n", "true"),
    ("-t", "a=\t", "true"),
    ("-t", "é=x", "true"),
    ("-t", "a=" + "é" * 200, "true"),
    ("-h", "-V"),
    ("--version", "--bogus"),
    ("", ""),
    ("-t", "a=b", ""),
    ("-t", "a=b", "--", ""),
    ("/",),
    ("\x01",),
]


@pytest.mark.parametrize("args", GARBAGE)
def test_garbage_never_tracebacks(args: tuple[str | bytes, ...]) -> None:
    p = run(*args)
    assert "Traceback" not in p.stderr
    assert len(p.stderr.splitlines()) <= 1, p.stderr
    assert p.returncode in (0, 125, 126, 127)
    if p.returncode != 0:
        assert p.stderr.startswith("ptag-exec: ")


def test_nul_in_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # argv cannot hold a NUL, but main() can be handed one; keep pytest's
    # own signal dispositions untouched
    monkeypatch.setattr(ptag_exec._common, "restore_signals", lambda: None)
    assert ptag_exec.main(["a\x00b"]) == 126
    assert one_line(capsys.readouterr().err).startswith("ptag-exec: failed to execute")


def test_internal_error_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom() -> bool:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(ptag, "supported", boom)
    status = ptag_exec.main(["-t", "a=b", "true"])
    err = capsys.readouterr().err
    assert status == 125
    assert one_line(err) == "ptag-exec: internal error: RuntimeError: boom second line"


def test_keyboard_interrupt_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted() -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(ptag, "supported", interrupted)
    assert ptag_exec.main(["-t", "a=b", "true"]) == 130
    assert "Traceback" not in capsys.readouterr().err


# --- --from PID ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from",), "ptag-exec: option '--from' requires an argument"),
        (("--from", "abc", "true"), "ptag-exec: --from: invalid PID 'abc'; try 'ptag-exec --help'"),
        (("--from", "0", "true"), "ptag-exec: --from: invalid PID '0'"),
        (("--from", "-5", "true"), "ptag-exec: --from: invalid PID '-5'"),
        (("--from", "99999999999", "true"), "ptag-exec: --from: invalid PID '99999999999'"),
        (("--from=", "true"), "ptag-exec: --from: invalid PID ''"),
    ],
)
def test_from_usage_errors(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    p = run(*args, "touch", str(marker)) if len(args) > 1 else run(*args)
    assert p.returncode == 125
    assert one_line(p.stderr).startswith(message)
    assert not marker.exists()


@no_ptags
def test_from_without_kernel_support(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    p = run("--from", str(os.getpid()), "touch", str(marker))
    assert p.returncode == 125
    assert one_line(p.stderr).startswith("ptag-exec: kernel lacks ptag support")
    assert not marker.exists()


def test_from_documented_in_help() -> None:
    p = run("--help")
    assert "--from PID" in p.stdout
    assert "--from" in (ptag_exec.__doc__ or "")
