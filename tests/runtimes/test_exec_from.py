"""``ptag-exec --from PID`` in front of ``nsenter``: a process that joins a running
container without its runtime (the ``lxc-attach``/``nsenter`` way) carries the
container's tags, copied from its init; and the errors, for real.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from bundle import make_bundle
from oci import OciRuntime, children, clean_env, proc_tags, run, run_detached, wait_for

ANNOTATIONS = {"org.ptag.tag.team": "payments"}


@pytest.fixture
def container(tmp_path: Path) -> Iterator[tuple[OciRuntime, str, int]]:
    """A crun container started through ptag-runtime, and its init PID."""
    rt = OciRuntime("crun", tmp_path)
    cid = rt.note("from-test")
    b = make_bundle(tmp_path / cid, ["sleep", "600"], annotations=ANNOTATIONS, spec_runtime="crun")
    log = tmp_path / "out"
    assert run_detached(rt.wrapped("run", "-d", "--bundle", str(b), cid), log) == 0, log.read_text()
    yield rt, cid, rt.init_pid(cid)
    rt.cleanup()


def test_nsenter_carries_the_container_tags(
    container: tuple[OciRuntime, str, int], tmp_path: Path
) -> None:
    rt, cid, init = container
    want = proc_tags(init)
    assert want == {
        "container.id": (cid, 0),
        "container.runtime": ("crun", 0),
        "team": ("payments", 0),
    }
    # ptag-exec execs nsenter (same PID), which forks into the PID namespace
    err = tmp_path / "stderr"
    p = subprocess.Popen(
        [
            "ptag-exec",
            "--from",
            str(init),
            "--",
            "nsenter",
            "--target",
            str(init),
            "--all",
            "sleep",
            "602",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=err.open("wb"),
        env=clean_env(),
    )
    joined = 0
    try:
        (joined,) = wait_for("nsenter's child", lambda: children(p.pid))  # type: ignore[misc]
        assert proc_tags(p.pid) == want
        assert proc_tags(joined) == want
        # it is in the container's namespaces, not the runtime's child, nor in its cgroup
        assert os.readlink(f"/proc/{joined}/ns/pid") == os.readlink(f"/proc/{init}/ns/pid")
        assert joined not in rt.pids(cid)
        ps = run(["ptag", "ps", "-n", "-o", "pid", "-l", f"container.id={cid}"])
        assert {int(x) for x in ps.stdout.split()} == {init, p.pid, joined}
    finally:
        for pid in (joined, p.pid):
            if pid:
                os.kill(pid, signal.SIGKILL)
        p.wait(timeout=60)
    assert err.read_text() == ""


def test_from_errors(container: tuple[OciRuntime, str, int], tmp_path: Path) -> None:
    _rt, _cid, init = container
    marker = tmp_path / "ran"
    # a key given another value by -t: refused before anything is set
    p = run(["ptag-exec", "--from", str(init), "-t", "team=other", "touch", str(marker)])
    assert p.returncode == 125
    assert p.stderr == ("ptag-exec: cannot set tag 'team': given twice with different values\n")
    # a key the caller already carries with another value: refused by the kernel
    p = run(
        [
            "ptag-exec",
            "-t",
            "team=other",
            "--",
            "ptag-exec",
            "--from",
            str(init),
            "touch",
            str(marker),
        ]
    )
    assert p.returncode == 125
    assert p.stderr == (
        f"ptag-exec: cannot set tag 'team' (from PID {init}): already set to 'other' "
        "(tags can never be changed or removed)\n"
    )
    # the same value, inherited: accepted
    p = run(
        [
            "ptag-exec",
            "-t",
            "team=payments",
            "--",
            "ptag-exec",
            "--from",
            str(init),
            "cat",
            "/proc/self/ptags",
        ]
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "0 team=payments"
    assert not marker.exists()
    # a process that is gone
    gone = subprocess.Popen(["true"])
    gone.wait()
    p = run(["ptag-exec", "--from", str(gone.pid), "touch", str(marker)])
    assert (p.returncode, p.stderr) == (125, f"ptag-exec: --from {gone.pid}: no such process\n")
    assert not marker.exists()
