"""Podman 4.3 (Debian's) through ptag-runtime and through the hooks.d hook, in the VM.

Every podman command here runs with its storage and state in a scratch directory
(vfs, cgroupfs, the file events backend, no network), on an image imported from the
busybox tarball of :mod:`rootfs`: nothing is pulled.
"""

from __future__ import annotations

import engines
import pytest
from engines import Podman

pytestmark = pytest.mark.slow

IMAGE = "localhost/ptag-busybox"
#: The container's command: its init (sh) starts a child and waits for it.
CMD = ("sh", "-c", "sleep 1001 & wait")
CHILD = ("sleep", "1001")
EXEC = ("sleep", "1002")


@pytest.fixture(scope="module")
def podman() -> Podman:
    engines.require("podman", "conmon", "crun", "runc")
    p = Podman()
    tarball = engines.busybox_tarball(p.dir)
    p.run("import", str(tarball), IMAGE)
    return p


def start(podman: Podman, *options: str) -> tuple[str, int]:
    """``podman [OPTIONS] run -d`` the busybox image: the full container id and
    its init's PID (here)."""
    out = podman.run(
        *options,
        "run",
        "-d",
        "--network",
        "none",
        "--annotation",
        "org.ptag.tag.team=payments",
        IMAGE,
        *CMD,
    )
    cid = out.stdout.strip().splitlines()[-1]
    assert len(cid) == 64, out.stdout
    init = int(podman.run("inspect", "--format", "{{.State.Pid}}", cid).stdout)
    return cid, init


def test_run_and_exec_through_ptag_runtime(podman: Podman) -> None:
    """``podman --runtime .../ptag-runtime run`` and ``podman exec``: the init, its
    child and the exec'd process carry the container's id and annotation tags.
    The real runtime is crun, Podman's own default (--runtime-flag passes
    ptag-runtime's --ptag-runtime=crun)."""
    rt = ("--runtime", engines.program("ptag-runtime"), "--runtime-flag", "ptag-runtime=crun")
    cid, init = start(podman, *rt)
    with engines.cleanup(podman.podman(*rt, "rm", "-f", "-t", "0", cid), env=podman.env):
        podman.run(*rt, "exec", "-d", cid, *EXEC)
        exec_pid = engines.wait_for_process(init, EXEC)
        want = {"container.id": cid, "container.runtime": "crun", "team": "payments"}
        engines.check_attribution(cid, init, CHILD, exec_pid, want)


def test_the_runtime_ptag_install_registers(podman: Podman) -> None:
    """``ptag install podman --default`` writes the containers.conf drop-in; with
    it as Podman's configuration, plain ``podman run`` and ``podman exec`` go
    through ptag-runtime (whose real runtime is then runc, the first on PATH)."""
    root = engines.scratch("podman-sys")
    engines.ptag_install(root, "podman", "--default")
    conf = root / "etc/containers/containers.conf.d/ptag.conf"
    installed = Podman.__new__(Podman)
    installed.dir, installed.env = podman.dir, {**podman.env, "CONTAINERS_CONF": str(conf)}
    cid, init = start(installed)
    with engines.cleanup(installed.podman("rm", "-f", "-t", "0", cid), env=installed.env):
        info = installed.run("inspect", "--format", "{{.OCIRuntime}}", cid).stdout.strip()
        assert info == "ptag"
        installed.run("exec", "-d", cid, *EXEC)
        exec_pid = engines.wait_for_process(init, EXEC)
        want = {"container.id": cid, "container.runtime": "runc", "team": "payments"}
        engines.check_attribution(cid, init, CHILD, exec_pid, want)


def test_hooks_dir_route(podman: Podman) -> None:
    """The hook that ``ptag install podman-hook`` writes, through ``--hooks-dir``:
    ``podman run`` (with Podman's own crun) tags the container's init and its
    child; and, the gap ptag-runtime closes, a ``podman exec``'d process is not
    tagged."""
    root = engines.scratch("podman-hook-sys")
    engines.ptag_install(root, "podman-hook")
    hooks = root / "etc/containers/oci/hooks.d"
    assert (hooks / "ptag.json").is_file()
    cid, init = start(podman, "--hooks-dir", str(hooks))
    with engines.cleanup(podman.podman("rm", "-f", "-t", "0", cid), env=podman.env):
        want = {"container.id": cid, "container.runtime": "podman", "team": "payments"}
        engines.check_attribution(cid, init, CHILD, None, want)
        podman.run("exec", "-d", cid, *EXEC)
        exec_pid = engines.wait_for_process(init, EXEC)
        assert engines.tags_of(exec_pid) == {}
