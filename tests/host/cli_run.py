"""Running the command-line tools as a user does: a new interpreter, real exit status.

Shared by the ``test_cli_*`` modules (pytest puts this directory on ``sys.path``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ptag

ROOT = Path(__file__).resolve().parents[2]

#: For tests of the "kernel lacks ptag support" paths: they need such a kernel.
no_ptags = pytest.mark.skipif(ptag.supported(), reason="the kernel supports ptags")


def run_module(
    module: str,
    *args: str | bytes,
    input: bytes | None = None,
    cwd: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m module args...`` with the tree's library, 80 columns, UTF-8.

    stdout and stderr are decoded with replacement, so a test sees exactly what a
    terminal would show.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT / "libptag"), COLUMNS="80", LC_ALL="C.UTF-8")
    cmd: list[str | bytes] = [sys.executable, "-m", module, *args]
    p = subprocess.run(cmd, input=input, capture_output=True, env=env, cwd=cwd, timeout=60)
    return subprocess.CompletedProcess(
        p.args,
        p.returncode,
        p.stdout.decode("utf-8", "replace"),
        p.stderr.decode("utf-8", "replace"),
    )


def one_line(stderr: str) -> str:
    """The only line of ``stderr``; fails on a traceback or on more lines."""
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]
