"""LXC 5.0 (Debian's) with the start-host hook that ``ptag install lxc`` writes, in the VM.

``ptag install lxc`` runs for real here, without ``--root``: it writes
``/usr/local/libexec/ptag-lxc-hook`` and
``/usr/share/lxc/config/common.conf.d/ptag.conf``, which is why this test runs in
the VM only, whose ``/usr`` is a scratch overlay of the guest.  The container
includes the distribution's ``common.conf`` as every template's configuration
does, so the hook runs from there.  ``lxc-attach`` starts a process that no hook
sees: ``ptag-exec --from`` gives it the tags of the container's init.
"""

from __future__ import annotations

import subprocess
import time

import engines
import pytest
import rootfs

pytestmark = pytest.mark.slow

CHILD = ("sleep", "1001")
ATTACHED = ("/bin/sleep", "1002")


def test_lxc_start_and_attach_with_the_installed_hook() -> None:
    engines.require("lxc-start", "lxc-attach", "lxc-info", "lxc-stop")
    if not engines.IN_VM:
        pytest.skip("writes /usr/share/lxc and /usr/local: only in the VM's scratch overlay")
    engines.run([engines.program("ptag"), "install", "lxc"])
    lxcpath = engines.scratch("lxc")
    name = "c1"
    tree = rootfs.build_rootfs(lxcpath / name / "rootfs")
    init_script = tree / "init.sh"
    init_script.write_text("#!/bin/sh\nsleep 1001 &\nwait\n")
    init_script.chmod(0o755)
    (lxcpath / name / "config").write_text(
        f"lxc.uts.name = {name}\n"
        f"lxc.rootfs.path = dir:{tree}\n"
        "lxc.include = /usr/share/lxc/config/common.conf\n"
        # the VM's kernel has no AppArmor
        "lxc.apparmor.profile = unconfined\n"
        "lxc.net.0.type = empty\n"
        "lxc.init.cmd = /init.sh\n"
        "lxc.environment = PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
        f"lxc.log.file = {lxcpath / name / 'lxc.log'}\n"
        "lxc.log.level = INFO\n"
    )
    lxc = ("-P", str(lxcpath), "-n", name)
    attach = None
    try:
        p = engines.run(["lxc-start", *lxc, "-d"], check=False)
        if p.returncode != 0:
            log = (lxcpath / name / "lxc.log").read_text(errors="replace")[-4000:]
            raise AssertionError(f"lxc-start failed ({p.returncode}): {p.stderr}\n{log}")
        init = int(engines.run(["lxc-info", *lxc, "-p", "-H"]).stdout)
        engines.wait_for_process(init, ("/bin/sh", "/init.sh"))
        argv = [engines.program("ptag-exec"), "--from", str(init), "--", "lxc-attach", *lxc]
        attach = subprocess.Popen(
            [*argv, "--", *ATTACHED],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        attached = engines.wait_for_process(init, ATTACHED)
        want = {"container.id": name, "container.name": name, "container.runtime": "lxc"}
        # lxc-attach stays in the foreground, outside the container, with the tags
        # that ptag-exec --from gave it (what the attached process inherits): it
        # and its helpers outside the container's PID namespace are listed too
        members = engines.processes_in_ns_of(init)
        wrappers = frozenset(engines.descendants(attach.pid) - members)
        print("lxc-attach side:", {pid: engines.comm(pid) for pid in sorted(wrappers)})
        assert attach.pid in wrappers
        assert engines.tags_of(attach.pid) == {**engines.tags_of(init)}
        engines.check_attribution(name, init, CHILD, attached, want, outside=wrappers)
    finally:
        if attach is not None:
            attach.kill()
            attach.wait(60)
        engines.run(["lxc-stop", *lxc, "-k"], check=False)
        time.sleep(1)
        engines.run([engines.program("ptag"), "install", "--undo", "lxc"], check=False)
