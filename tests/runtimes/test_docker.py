"""Docker 20.10 (Debian's docker.io) through ptag-runtime, in the VM.

The test starts Debian's containerd, then dockerd on it (dockerd's own managed
containerd times out under TCG) with vfs storage, no bridge and no iptables, and
the daemon.json that ``ptag install docker`` writes; the image is imported from the
busybox tarball of :mod:`rootfs`: nothing is pulled.
"""

from __future__ import annotations

from collections.abc import Iterator

import engines
import pytest
from engines import Dockerd

pytestmark = pytest.mark.slow

IMAGE = "ptag-busybox"
CMD = ("sh", "-c", "sleep 1001 & wait")
CHILD = ("sleep", "1001")
EXEC = ("sleep", "1002")


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    engines.require("dockerd", "containerd", "runc", engines.DOCKER_CLIENT)
    root = engines.scratch("docker-sys")
    engines.ptag_install(root, "docker")
    d = Dockerd(root / "etc/docker/daemon.json")
    try:
        tarball = engines.busybox_tarball(d.dir)
        engines.run(d.docker("import", str(tarball), IMAGE))
        yield d
    finally:
        d.stop()


def test_daemon_json_registers_the_runtime(dockerd: Dockerd) -> None:
    out = engines.run(dockerd.docker("info", "--format", "{{json .Runtimes}}")).stdout
    assert '"ptag"' in out and engines.program("ptag-runtime") in out, out


def test_run_and_exec_through_ptag_runtime(dockerd: Dockerd) -> None:
    """``docker run --runtime ptag`` and ``docker exec``: the init, its child and
    the exec'd process carry the full container id (docker 20.10 passes no labels
    into the OCI annotations, so there are no annotation tags)."""
    out = engines.run(
        dockerd.docker("run", "-d", "--runtime", "ptag", "--network", "none", IMAGE, *CMD)
    )
    cid = out.stdout.strip().splitlines()[-1]
    assert len(cid) == 64, out.stdout
    with engines.cleanup(dockerd.docker("rm", "-f", cid)):
        init = int(engines.run(dockerd.docker("inspect", "-f", "{{.State.Pid}}", cid)).stdout)
        engines.run(dockerd.docker("exec", "-d", cid, *EXEC))
        exec_pid = engines.wait_for_process(init, EXEC)
        want = {"container.id": cid, "container.runtime": "runc"}
        engines.check_attribution(cid, init, CHILD, exec_pid, want)
