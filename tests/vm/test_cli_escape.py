"""Hostile tag values and command names on the real kernel, through ``ptag ps``,
``get``, ``explain`` and ``set``'s messages: escaped for a human, exact in ``-J``
and ``-r`` (the host tests, tests/host/test_cli_escape.py, cover every output on a
synthetic /proc; this shows the kernel lets such values through and the tools cope).

The target is a forked child (:class:`Waiter`) that tags itself and renames itself
in its setup; pytest itself never carries a tag.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ptag

pytestmark = pytest.mark.vm

ROOT = Path(__file__).resolve().parents[2]
PTAG = [sys.executable, "-m", "ptag.cli.main"]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "libptag"), LC_ALL="C.UTF-8", COLUMNS="250")

#: key, the bytes the kernel holds, what a human is shown
HOSTILE = [
    ("rlo", "invoice\u202etxt.exe".encode(), "invoice\\u202etxt.exe"),
    ("csi", "a\u009b31mred".encode(), "a\\u009b31mred"),
    ("rawcsi", b"a\x9b31mred", "a\\x9b31mred"),
    ("invalid", b"\xff\xfe\xe2\x80", "\\xff\\xfe\\xe2\\x80"),
    ("zwj", "a\u200db\u2066c".encode(), "a\\u200db\\u2066c"),
    ("backslash", b"C:\\x9b\\x2d", "C:\\\\x9b\\x2d"),
    ("stays", "漢字 e\u0301 😀".encode(), "漢字 e\u0301 😀"),
]
COMM = b"ev\x1b[1mil\x9b"  # comm may hold ESC (only values are checked)
COMM_SHOWN = "ev\\x1b[1mil\\x9b"


def _hostile_child() -> None:
    """Setup of the forked target: tag itself with every hostile value, and rename."""
    for key, raw, _ in HOSTILE:
        ptag.set(key, raw.decode("utf-8", "surrogateescape"))
    Path("/proc/self/comm").write_bytes(COMM)


def ptag_bytes(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*PTAG, *args], capture_output=True, env=ENV, timeout=120)


def text(p: subprocess.CompletedProcess[bytes]) -> str:
    """stdout as text: strictly UTF-8 (escaped output is)."""
    out = p.stdout.decode("utf-8")
    for line in out.split("\n"):
        assert line.isprintable(), line
    return out


@pytest.fixture
def target(waiter: Any) -> Iterator[Any]:
    with waiter(_hostile_child) as w:
        yield w


def test_kernel_holds_the_bytes(target: Any) -> None:
    """The kernel takes them (no C0, no DEL) and gives them back unchanged."""
    data = Path(f"/proc/{target.pid}/ptags").read_bytes()
    assert data == b"".join(b"0 %s=%s\n" % (k.encode(), raw) for k, raw, _ in HOSTILE)
    assert Path(f"/proc/{target.pid}/comm").read_bytes() == COMM + b"\n"


def test_ps_escapes_and_json_is_exact(target: Any) -> None:
    cols = "pid,comm," + ",".join(f"tag:{k}" for k, _, _ in HOSTILE)
    p = ptag_bytes("ps", "-n", "-p", str(target.pid), "-o", cols)
    assert (p.returncode, p.stderr) == (0, b"")
    (line,) = text(p).splitlines()
    assert line.split(" ", 2)[:2] == [str(target.pid), COMM_SHOWN]
    for _, _, shown in HOSTILE:
        assert shown in line
    p = ptag_bytes("ps", "-J", "-p", str(target.pid), "-o", "pid,comm,tags")
    (row,) = json.loads(text(p))["processes"]
    assert row["comm"].encode("utf-8", "surrogateescape") == COMM
    for key, raw, _ in HOSTILE:
        assert row["tags"][key].encode("utf-8", "surrogateescape") == raw


def test_ps_raw_decodes_to_the_bytes(target: Any) -> None:
    p = ptag_bytes("ps", "-r", "-n", "-p", str(target.pid), "-o", "comm,tag:invalid,tag:rlo")
    comm, invalid, rlo = text(p).split()
    assert (_unraw(comm), _unraw(invalid), _unraw(rlo)) == (COMM, HOSTILE[3][1], HOSTILE[0][1])


def _unraw(s: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(s):
        if s.startswith("\\x", i):
            out.append(int(s[i + 2 : i + 4], 16))
            i += 4
        else:
            out += s[i].encode()
            i += 1
    return bytes(out)


def test_get_escapes_and_raw_is_exact(target: Any) -> None:
    p = ptag_bytes("get", "-p", str(target.pid))
    assert (p.returncode, p.stderr) == (0, b"")
    assert text(p) == "".join(f"{k}={shown}\n" for k, _, shown in HOSTILE)
    p = ptag_bytes("get", "-r", "-p", str(target.pid), "rawcsi", "invalid")
    assert p.stdout == b"a\x9b31mred\n\xff\xfe\xe2\x80\n"
    p = ptag_bytes("get", "-J", "-p", str(target.pid))
    doc = json.loads(text(p))
    assert {k: v.encode("utf-8", "surrogateescape") for k, v in doc["tags"].items()} == {
        k: raw for k, raw, _ in HOSTILE
    }


def test_explain_escapes(target: Any) -> None:
    p = ptag_bytes("explain", str(target.pid))
    assert p.returncode == 0
    out = text(p)
    assert out.startswith(f"process {target.pid} ({COMM_SHOWN}), user root")
    for _, _, shown in HOSTILE:
        assert f"  {shown}  (set by root)" in out


def test_set_message_escapes_the_current_value(target: Any) -> None:
    p = ptag_bytes("set", "-p", str(target.pid), "rlo=other")
    assert (p.returncode, p.stdout) == (1, b"")
    assert p.stderr.decode() == (
        f"ptag: cannot set tag 'rlo' on PID {target.pid}: already set to "
        "'invoice\\u202etxt.exe' (tags can never be changed or removed)\n"
    )
