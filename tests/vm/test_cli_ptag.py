"""``ptag get/set/ps/explain/oci-hook`` on the patched kernel (root, in the VM).

Targets are ``sleep`` children started here: untagged ones through
``subprocess`` (pytest itself never carries a tag), tagged ones through
``ptag-exec``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.vm

ROOT = Path(__file__).resolve().parents[2]
EXEC = [sys.executable, "-m", "ptag.cli.exec"]
PTAG = [sys.executable, "-m", "ptag.cli.main"]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "libptag"), LC_ALL="C.UTF-8", COLUMNS="80")
UID = os.geteuid()


def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), input=input, capture_output=True, text=True, env=ENV, timeout=60
    )


def ptag_cmd(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return run(*PTAG, *args, input=input)


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def proc_tags(pid: int) -> str:
    return Path(f"/proc/{pid}/ptags").read_text()


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class Procs:
    """Children started by a test, killed at its end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def sleep(self, *tags: str, argv: list[str] | None = None) -> int:
        """A ``sleep`` (tagged through ptag-exec when ``tags`` are given)."""
        cmd = argv or ["sleep", "300"]
        if tags:
            cmd = [*EXEC, *(a for t in tags for a in ("-t", t)), "--", *cmd]
        p = subprocess.Popen(cmd, env=ENV, stdin=subprocess.DEVNULL)
        self.procs.append(p)
        wait_for(lambda: comm(p.pid) == "sleep", f"pid {p.pid} to exec sleep")
        return p.pid

    def group(self, argv: list[str]) -> subprocess.Popen[bytes]:
        """A process in a session of its own; close() kills the whole group."""
        p = subprocess.Popen(argv, env=ENV, stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in self.procs:
            try:
                if os.getpgid(p.pid) == p.pid:
                    os.killpg(p.pid, 9)
            except OSError:
                pass
            p.kill()
            p.wait()
        self.procs.clear()


@pytest.fixture
def procs() -> Iterator[Procs]:
    ps = Procs()
    try:
        yield ps
    finally:
        ps.close()


def unique() -> str:
    return uuid.uuid4().hex[:12]


# -- get ---------------------------------------------------------------------


def test_get_own_inherited_tags() -> None:
    p = run(*EXEC, "-t", "a=1", "-t", "b=two words", "--", *PTAG, "get")
    assert (p.returncode, p.stdout, p.stderr) == (0, "a=1\nb=two words\n", "")
    p = run(*EXEC, "-t", "a=1", "-t", "b=2", "--", *PTAG, "get", "b", "a")
    assert (p.returncode, p.stdout) == (0, "2\n1\n")
    p = run(*EXEC, "-t", "a=1", "--", *PTAG, "get", "a", "missing")
    assert (p.returncode, p.stdout) == (1, "1\n")
    assert one_line(p.stderr) == "ptag: this process has no tag 'missing'"


def test_get_other_process(procs: Procs) -> None:
    pid = procs.sleep("container.id=abc", "container.name=web")
    p = ptag_cmd("get", "-p", str(pid))
    assert (p.returncode, p.stdout) == (0, "container.id=abc\ncontainer.name=web\n")
    p = ptag_cmd("get", "-p", str(pid), "-J")
    doc = json.loads(p.stdout)
    assert doc == {
        "pid": pid,
        "tags": {"container.id": "abc", "container.name": "web"},
        "owner": {"container.id": UID, "container.name": UID},
    }
    p = ptag_cmd("get", "-p", str(pid), "container.name")
    assert p.stdout == "web\n"


def test_get_no_such_process() -> None:
    p = ptag_cmd("get", "-p", "4194303")
    assert p.returncode == 1
    assert one_line(p.stderr) == "ptag: PID 4194303: no such process"


def test_get_untagged() -> None:
    p = ptag_cmd("get")
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")


# -- set ---------------------------------------------------------------------


def test_set_by_pidfd(procs: Procs) -> None:
    pid = procs.sleep()
    p = ptag_cmd("set", "-p", str(pid), "job=7", "team=blue")
    assert (p.returncode, p.stderr) == (0, "")
    assert proc_tags(pid) == f"{UID} job=7\n{UID} team=blue\n"
    # rewrite: refused, whoever asks
    p = ptag_cmd("set", "-p", str(pid), "job=8")
    assert p.returncode == 1
    assert one_line(p.stderr) == (
        f"ptag: cannot set tag 'job' on PID {pid}: already set to '7' "
        "(tags can never be changed or removed)"
    )
    # idempotent re-run with --exist-ok, a different value still refused
    assert ptag_cmd("set", "-p", str(pid), "--exist-ok", "job=7").returncode == 0
    assert ptag_cmd("set", "-p", str(pid), "--exist-ok", "job=8").returncode == 1
    assert proc_tags(pid) == f"{UID} job=7\n{UID} team=blue\n"


def test_set_no_such_process() -> None:
    p = ptag_cmd("set", "-p", "4194303", "a=b")
    assert p.returncode == 1
    assert one_line(p.stderr) == "ptag: PID 4194303: no such process"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_set_eperm(procs: Procs) -> None:
    pid = procs.sleep()
    p = run(
        "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
        *PTAG, "set", "-p", str(pid), "a=b",
    )  # fmt: skip
    assert p.returncode == 1
    assert one_line(p.stderr).startswith(f"ptag: cannot set tag 'a' on PID {pid}: permission")
    assert proc_tags(pid) == ""


def test_set_limit(procs: Procs) -> None:
    pid = procs.sleep(*(f"k{i}=v" for i in range(31)))
    p = ptag_cmd("set", "-p", str(pid), "k31=v", "k32=v")
    assert p.returncode == 1
    assert one_line(p.stderr) == (
        f"ptag: cannot set tag 'k32' on PID {pid}: too many tags (a process may carry at most 32)"
    )
    assert proc_tags(pid).count("\n") == 32


# -- ps ----------------------------------------------------------------------


def test_ps_selector_and_columns(procs: Procs) -> None:
    run_id = unique()
    web = [procs.sleep(f"t.run={run_id}", "container.name=web") for _ in range(2)]
    db = procs.sleep(f"t.run={run_id}", "container.name=db")
    p = ptag_cmd("ps", "-n", "-o", "pid", "-l", f"t.run={run_id},container.name=web")
    assert p.returncode == 0, p.stderr
    assert sorted(int(x) for x in p.stdout.split()) == sorted(web)
    p = ptag_cmd("ps", "-n", "-o", "pid", "-l", f"t.run={run_id},container.name!=web")
    assert [int(x) for x in p.stdout.split()] == [db]
    p = ptag_cmd("ps", "-l", f"t.run={run_id},!container.name")
    assert p.returncode == 1
    p = ptag_cmd("ps", "-r", "-n", "-o", "pid,user,tag:container.name,owner,tags", "-p", str(db))
    assert p.stdout.split() == [
        str(db), "root" if UID == 0 else str(UID), "db", "root" if UID == 0 else str(UID),
        f"t.run={run_id},container.name=db",
    ]  # fmt: skip


def test_ps_json(procs: Procs) -> None:
    run_id = unique()
    pid = procs.sleep(f"t.run={run_id}", "k=v w")
    p = ptag_cmd("ps", "-J", "-o", "pid,comm,tags,owner,tag:k", "-l", f"t.run={run_id}")
    doc = json.loads(p.stdout)
    assert doc == {
        "processes": [
            {
                "pid": pid,
                "comm": "sleep",
                "tags": {"t.run": run_id, "k": "v w"},
                "owner": {"t.run": UID, "k": UID},
                "tag:k": "v w",
            }
        ]
    }


def test_ps_tree(procs: Procs) -> None:
    run_id = unique()
    script = "sleep 300 & sleep 300 & wait"
    p = procs.group([*EXEC, "-t", f"t.run={run_id}", "--", "sh", "-c", script])

    def listed() -> list[str]:
        out = ptag_cmd("ps", "-n", "-o", "pid", "-l", f"t.run={run_id}").stdout
        return out.split()

    wait_for(lambda: len(listed()) == 3, "the shell and its two sleeps")
    out = ptag_cmd("ps", "--tree", "-n", "-o", "pid,comm", "-l", f"t.run={run_id}").stdout
    lines = out.splitlines()
    assert lines[0].split() == [str(p.pid), "sh"]
    assert lines[1].split()[1] == "├─sleep"
    assert lines[2].split()[1] == "└─sleep"
    doc = json.loads(ptag_cmd("ps", "--tree", "-J", "-o", "pid", "-l", f"t.run={run_id}").stdout)
    assert len(doc["processes"]) == 1
    assert [c["pid"] for c in doc["processes"][0]["children"]] == [
        int(x) for x in lines_pids(lines[1:])
    ]


def lines_pids(lines: list[str]) -> list[str]:
    return [line.split()[0] for line in lines]


def test_ps_fits_80_columns(procs: Procs) -> None:
    procs.sleep("container.id=" + "f" * 64, "container.name=" + "n" * 200)
    p = ptag_cmd("ps", "-o", "+cgroup,owner")
    assert p.returncode == 0
    assert p.stderr == ""
    for line in p.stdout.splitlines():
        assert len(line) <= 80
    assert "…" in p.stdout


# -- explain -----------------------------------------------------------------


def test_explain_tags_only(procs: Procs) -> None:
    pid = procs.sleep("container.id=" + "c" * 64, "container.name=web")
    p = ptag_cmd("explain", str(pid))
    assert (p.returncode, p.stderr) == (0, "")
    assert f"process {pid} (sleep)" in p.stdout
    assert "container.name" in p.stdout
    last = p.stdout.splitlines()[-1]
    # this VM's cgroup path is not a container's
    assert last.startswith(("verdict: tags only:", "verdict: DISAGREE"))
    doc = json.loads(ptag_cmd("explain", "-J", str(pid)).stdout)
    assert doc["tags"]["container.name"] == "web"


def _cgroup2_root() -> Path | None:
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if fields[2] == "cgroup2":
            return Path(fields[1])
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create cgroups")
def test_explain_disagrees_after_cgroup_move(procs: Procs) -> None:
    root = _cgroup2_root()
    if root is None:
        pytest.skip("no cgroup2 mount")
    a, b = "a" * 60 + unique()[:4], "b" * 60 + unique()[:4]
    scope = root / f"ptag-test-{unique()}" / f"docker-{a}.scope"
    try:
        scope.mkdir(parents=True)
    except OSError as exc:
        pytest.skip(f"cannot create a cgroup: {exc}")
    try:
        pid = procs.sleep(f"container.id={b}", "container.runtime=docker")
        (scope / "cgroup.procs").write_text(str(pid))
        doc = json.loads(ptag_cmd("explain", "-J", str(pid)).stdout)
        assert doc["guess"]["runtime"] == "docker"
        assert doc["guess"]["container_id"] == a
        assert doc["verdict"] == "disagree"
        text = ptag_cmd("explain", str(pid)).stdout
        assert "guess (from cgroup path):" in text
        assert text.splitlines()[-1].startswith("verdict: DISAGREE: the tags say docker container")
    finally:
        procs.close()
        for d in (scope, scope.parent):
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)


# -- oci-hook ----------------------------------------------------------------


def oci_state(pid: int, cid: str, annotations: dict[str, str]) -> str:
    return json.dumps(
        {
            "ociVersion": "1.2.0",
            "id": cid,
            "status": "creating",
            "pid": pid,
            "bundle": f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{cid}",
            "annotations": annotations,
        }
    )


ANNOTATIONS = {
    "io.kubernetes.cri.container-type": "container",
    "io.kubernetes.cri.container-name": "nginx",
    "io.kubernetes.cri.sandbox-id": "5" * 64,
    "io.kubernetes.cri.sandbox-name": "web-7d4b9c-x2x9z",
    "io.kubernetes.cri.sandbox-namespace": "shop",
    "io.kubernetes.cri.sandbox-uid": "5c2e8f3a-0b1d-4e6f-9a7b-1c2d3e4f5a6b",
    "org.ptag.tag.team": "payments",
}


def test_oci_hook_tags_the_container_process(procs: Procs) -> None:
    pid = procs.sleep()
    cid = "9" * 64
    state = oci_state(pid, cid, ANNOTATIONS)
    p = ptag_cmd("oci-hook", "--runtime", "runc", input=state)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    assert proc_tags(pid) == (
        f"{UID} container.id={cid}\n"
        f"{UID} container.runtime=runc\n"
        f"{UID} container.name=nginx\n"
        f"{UID} k8s.pod.namespace=shop\n"
        f"{UID} k8s.pod.name=web-7d4b9c-x2x9z\n"
        f"{UID} k8s.pod.uid=5c2e8f3a-0b1d-4e6f-9a7b-1c2d3e4f5a6b\n"
        f"{UID} team=payments\n"
    )
    # a runtime retrying the hook: idempotent
    p = ptag_cmd("oci-hook", "--runtime", "runc", input=state)
    assert (p.returncode, p.stderr) == (0, "")
    # a different container id for the same process: refused, fail the container
    p = ptag_cmd("oci-hook", input=oci_state(pid, "8" * 64, {}))
    assert p.returncode == 1
    assert one_line(p.stderr) == (
        f"ptag: oci-hook: cannot set tag 'container.id' on PID {pid}: already set to "
        f"'{cid}' (tags can never be changed or removed)"
    )
    # children of the container process inherit: the hook ran before the payload
    p = ptag_cmd("ps", "-n", "-o", "tag:container.name", "-p", str(pid))
    assert p.stdout.strip() == "nginx"


def test_oci_hook_process_gone() -> None:
    p = subprocess.Popen(["true"])
    p.wait()
    r = ptag_cmd("oci-hook", input=oci_state(p.pid, "7" * 64, {}))
    assert r.returncode == 1
    assert one_line(r.stderr) == f"ptag: oci-hook: container process {p.pid} does not exist"


def test_oci_hook_bad_json_sets_nothing(procs: Procs) -> None:
    pid = procs.sleep()
    p = ptag_cmd("oci-hook", input='{"id": "x", "pid": ' + str(pid))
    assert p.returncode == 1
    assert one_line(p.stderr).startswith("ptag: oci-hook: invalid container state JSON")
    bad = oci_state(pid, "x", {"org.ptag.tag.ok": "1", "org.ptag.tag.bad key": "2"})
    p = ptag_cmd("oci-hook", input=bad)
    assert p.returncode == 1
    assert proc_tags(pid) == ""  # validated before anything was set
