"""containerd 1.6 (Debian's) with ctr, its runc shim pointed at ptag-runtime, in the VM.

``ctr run --runc-binary`` is the command-line form of the shim's ``BinaryName``
option (what the CRI plugin's configuration sets for Kubernetes); the container's
root file system is the busybox directory of :mod:`rootfs` (``--rootfs``), so no
image and no snapshotter are involved.
"""

from __future__ import annotations

import engines
import pytest
import rootfs

pytestmark = pytest.mark.slow

CMD = ("sh", "-c", "sleep 1001 & wait")
CHILD = ("sleep", "1001")
EXEC = ("sleep", "1002")


def task_pid(c: engines.Containerd, cid: str) -> int:
    out = engines.run(c.ctr("task", "ls")).stdout
    for line in out.splitlines()[1:]:
        words = line.split()
        if words and words[0] == cid:
            return int(words[1])
    raise AssertionError(f"no task {cid} in: {out}")


def test_ctr_run_and_exec_through_ptag_runtime() -> None:
    engines.require("containerd", "ctr", "containerd-shim-runc-v2", "runc")
    c = engines.containerd()
    tree = rootfs.build_rootfs(engines.scratch("ctr") / "rootfs")
    cid = "ptag-ctr-1"
    engines.run(
        c.ctr(
            "run",
            "--detach",
            "--null-io",
            # ctr run asks for cpu shares 1024 by default (cpu.weight), and the
            # VM's kernel has no cpu controller (CONFIG_CGROUP_SCHED): runc create
            # would fail with "openat2 .../cpu.weight: no such file or directory"
            "--cpu-shares",
            "0",
            # without an image there is no image configuration to give PATH
            "--env",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "--rootfs",
            "--runc-binary",
            engines.program("ptag-runtime"),
            "--annotation",
            "org.ptag.tag.team=payments",
            str(tree),
            cid,
            *CMD,
        )
    )
    with engines.cleanup(
        c.ctr("task", "kill", "--signal", "SIGKILL", cid),
        c.ctr("task", "rm", "--force", cid),
        c.ctr("container", "rm", cid),
    ):
        init = task_pid(c, cid)
        engines.run(c.ctr("task", "exec", "--detach", "--exec-id", "e1", cid, *EXEC))
        exec_pid = engines.wait_for_process(init, EXEC)
        want = {"container.id": cid, "container.runtime": "runc", "team": "payments"}
        engines.check_attribution(cid, init, CHILD, exec_pid, want)
