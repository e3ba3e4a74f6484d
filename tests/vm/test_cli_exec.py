"""ptag-exec on the patched kernel (run as root inside the VM).

Every tag is set in a subprocess (ptag-exec itself), never in pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ptag

pytestmark = pytest.mark.vm

ROOT = Path(__file__).resolve().parents[2]
EXEC = [sys.executable, "-m", "ptag.cli.exec"]
PTAG = [sys.executable, "-m", "ptag.cli.main"]
SH_EXEC = " ".join(EXEC)
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "libptag"), LC_ALL="C.UTF-8", COLUMNS="80")
UID = os.geteuid()


def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), input=input, capture_output=True, text=True, env=ENV, timeout=60
    )


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_inherited_through_a_shell_pipeline() -> None:
    p = run(*EXEC, "-t", "a=b", "--", "sh", "-c", "cat /proc/self/ptags | cat")
    assert (p.returncode, p.stderr) == (0, "")
    assert p.stdout == f"{UID} a=b\n"


def test_inherited_by_every_descendant() -> None:
    script = "cat /proc/self/ptags; (sh -c 'cat /proc/$$/ptags' &) ; wait; sleep 0.2"
    p = run(*EXEC, "-t", "team=x", "-t", "job=42", "--", "sh", "-c", script)
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[:2] == [f"{UID} team=x", f"{UID} job=42"]
    assert lines[2:4] == [f"{UID} team=x", f"{UID} job=42"]


def test_order_and_tags_from(tmp_path: Path) -> None:
    f = tmp_path / "tags"
    f.write_text("# from a runtime\n\nb=2\nc=three words\n")
    p = run(
        *EXEC, "-t", "a=1", "--tags-from", str(f), "--tags-from", "-", "-t", "e=5",
        "cat", "/proc/self/ptags",
        input="d=4\n",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        f"{UID} a=1",
        f"{UID} b=2",
        f"{UID} c=three words",
        f"{UID} d=4",
        f"{UID} e=5",
    ]


def test_command_status_and_not_found() -> None:
    assert run(*EXEC, "-t", "a=b", "sh", "-c", "exit 9").returncode == 9
    p = run(*EXEC, "-t", "a=b", "/nonexistent/cmd")
    assert p.returncode == 127
    assert one_line(p.stderr) == (
        "ptag-exec: failed to execute '/nonexistent/cmd': No such file or directory"
    )
    p = run(*EXEC, "-t", "a=b", "/etc/hostname")
    assert p.returncode == 126


def test_eexist_fails_closed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    p = run(*EXEC, "-t", "a=b", "--", *EXEC, "-t", "a=c", "--", "touch", str(marker))
    assert p.returncode == 125
    assert one_line(p.stderr) == (
        "ptag-exec: cannot set tag 'a': already set to 'b' (tags can never be changed or removed)"
    )
    assert not marker.exists()


def test_eexist_same_value() -> None:
    p = run(*EXEC, "-t", "a=b", "--", *EXEC, "-t", "a=b", "--", "true")
    assert p.returncode == 125
    assert "already set to this value" in one_line(p.stderr)
    p = run(
        *EXEC, "-t", "a=b", "--", *EXEC, "--exist-ok", "-t", "a=b", "-t", "c=d", "--",
        "cat", "/proc/self/ptags",
    )  # fmt: skip
    assert (p.returncode, p.stdout) == (0, f"{UID} a=b\n{UID} c=d\n")
    p = run(*EXEC, "-t", "a=b", "--", *EXEC, "--exist-ok", "-t", "a=x", "--", "true")
    assert p.returncode == 125
    assert "already set to 'b'" in p.stderr


def test_half_applied_is_fail_closed(tmp_path: Path) -> None:
    # b is set before a fails; it cannot be undone, so the command never runs
    marker = tmp_path / "ran"
    p = run(
        *EXEC, "-t", "a=1", "--", *EXEC, "-t", "b=2", "-t", "a=9", "-t", "c=3", "--",
        "touch", str(marker),
    )  # fmt: skip
    assert p.returncode == 125
    assert one_line(p.stderr).startswith("ptag-exec: cannot set tag 'a': already set to '1'")
    assert not marker.exists()


def test_limit_enospc(tmp_path: Path) -> None:
    first = [a for i in range(ptag.MAX_TAGS) for a in ("-t", f"k{i}=v")]
    p = run(*EXEC, *first, "--", *EXEC, "-t", "one.more=v", "--", "true")
    assert p.returncode == 125
    assert one_line(p.stderr) == (
        "ptag-exec: cannot set tag 'one.more': too many tags "
        f"(a process may carry at most {ptag.MAX_TAGS})"
    )
    p = run(*EXEC, *first, "--", "sh", "-c", "wc -l < /proc/self/ptags")
    assert (p.returncode, p.stdout.strip()) == (0, str(ptag.MAX_TAGS))


def test_limits_at_the_boundary() -> None:
    key64, val256 = "k" * 64, "v" * 256
    p = run(*EXEC, "-t", f"{key64}={val256}", "cat", "/proc/self/ptags")
    assert (p.returncode, p.stdout) == (0, f"{UID} {key64}={val256}\n")
    p = run(*EXEC, "-t", f"{key64}k=v", "true")
    assert p.returncode == 125
    p = run(*EXEC, "-t", f"k={val256}v", "true")
    assert p.returncode == 125


def test_utf8_value() -> None:
    p = run(*EXEC, "-t", "name=café ☕", "cat", "/proc/self/ptags")
    assert (p.returncode, p.stdout) == (0, f"{UID} name=café ☕\n")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_owner_is_the_setter() -> None:
    p = run(
        "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
        *EXEC, "-t", "who=nobody", "cat", "/proc/self/ptags",
    )  # fmt: skip
    assert (p.returncode, p.stdout) == (0, "65534 who=nobody\n")


def test_survives_exec_chain() -> None:
    p = run(*EXEC, "-t", "a=b", "sh", "-c", "exec sh -c 'exec cat /proc/self/ptags'")
    assert p.stdout == f"{UID} a=b\n"
