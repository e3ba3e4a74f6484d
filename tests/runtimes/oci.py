"""Helpers of the OCI runtime tests: drive one real runtime (Debian's crun or runc)
with its own ``--root``, directly or through ``ptag-runtime`` (the repository's sh
front, whose Python half, ``ptag-runtime-py``, is the venv's), and look at processes
from the VM's initial namespaces.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

import ptag

HERE = Path(__file__).parent
REPO = HERE.parents[1]
FRONT = REPO / "libptag" / "bin" / "ptag-runtime"
#: Generous: under TCG a container start takes seconds, and the host may be busy.
TIMEOUT = 600


def tools_path() -> str:
    """PATH with the venv's bin first (ptag, ptag-exec, ptag-runtime-py)."""
    venv_bin = Path(os.environ.get("PTAG_VENV", REPO / ".venv")) / "bin"
    return f"{venv_bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PTAG_")}
    env["PATH"] = tools_path()
    env.update(extra)
    return env


def run(
    cmd: Sequence[str | os.PathLike[str]], *, env: dict[str, str] | None = None, **kw: object
) -> subprocess.CompletedProcess[str]:
    """Run *cmd* to completion, output captured as text, with the tools on PATH."""
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        env=env or clean_env(),
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def run_detached(
    cmd: Sequence[str | os.PathLike[str]], log: Path, *, env: dict[str, str] | None = None
) -> int:
    """Run a command whose children keep its stdout (``run -d``, ``exec -d``): output to
    the file *log* rather than a pipe nobody would close; its exit status."""
    with open(log, "ab") as f:
        p = subprocess.run(
            [str(c) for c in cmd],
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=f,
            env=env or clean_env(),
            timeout=TIMEOUT,
        )
    return p.returncode


def wait_for(what: str, check: object, timeout: float = 120.0) -> object:
    """Poll ``check()`` until it returns something true; fail after *timeout* s."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()  # type: ignore[operator]
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


class OciRuntime:
    """One real OCI runtime with a private ``--root``; what it made is deleted after."""

    def __init__(self, name: str, tmp: Path) -> None:
        path = shutil.which(name, path=tools_path())
        if path is None:
            pytest.fail(f"{name} is not installed (tools/setup installs it)")
        self.name = name
        self.path = path
        self.root = tmp / f"{name}-root"
        self.created: list[str] = []

    def globals(self) -> list[str]:
        return ["--root", str(self.root)]

    def cmd(self, *args: str) -> list[str]:
        """The bare runtime."""
        return [self.path, *self.globals(), *args]

    def wrapped(self, *args: str, ptag_opts: Sequence[str] = ()) -> list[str]:
        """The same through ptag-runtime (``--ptag-runtime`` names this runtime)."""
        return [str(FRONT), f"--ptag-runtime={self.path}", *ptag_opts, *self.globals(), *args]

    def note(self, cid: str) -> str:
        self.created.append(cid)
        return cid

    def state(self, cid: str) -> dict[str, object] | None:
        """``state ID`` as JSON, None when the runtime knows no such container."""
        p = run(self.cmd("state", cid))
        if p.returncode != 0:
            return None
        doc: dict[str, object] = json.loads(p.stdout)
        return doc

    def init_pid(self, cid: str) -> int:
        st = self.state(cid)
        assert st is not None, f"{self.name} has no container {cid}"
        pid = st["pid"]
        assert isinstance(pid, int) and pid > 0, st
        return pid

    def pids(self, cid: str) -> set[int]:
        """The container's processes as the runtime sees them (its cgroup): ``ps``."""
        p = run(self.cmd("ps", "--format", "json", cid))
        assert p.returncode == 0, p.stderr
        return set(json.loads(p.stdout) or [])

    def cleanup(self) -> None:
        for cid in self.created:
            subprocess.run(
                self.cmd("delete", "--force", cid),
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
            )


def proc_tags(pid: int) -> dict[str, tuple[str, int]]:
    """A process's tags as the VM's initial namespaces see them (/proc, the library):
    key -> (value, owner)."""
    return {k: (t.value, t.owner) for k, t in ptag.read_proc_tags(pid).items()}


def children(pid: int) -> list[int]:
    """The PIDs whose parent is *pid* (a scan of /proc)."""
    out = []
    for info in ptag.process_iter():
        if info.ppid == pid:
            out.append(info.pid)
    return out
