"""crun and runc (Debian's) through ``ptag-runtime``: every process of a container,
``exec``'d ones included, carries its tags; tagging failures stop the runtime.

Each container runs ``sh -c 'sleep 600 & wait'``: an init that starts a child.  The
assertions look from outside, in the VM's initial namespaces: ``/proc/<pid>/ptags``
through the library, ``ptag ps -l container.id=ID``, against the runtime's own
``state`` and ``ps`` (its cgroup) for which processes are the container's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from bundle import make_bundle
from oci import (
    OciRuntime,
    children,
    clean_env,
    proc_tags,
    run,
    run_detached,
    wait_for,
)

SLOW = pytest.mark.slow  # only in 'make runtimes': make runtimes-short runs one of each pair


def per_runtime(*cases: tuple[str, str, bool]) -> pytest.MarkDecorator:
    """Parametrize (oci_runtime, variant): the cases marked True run in make
    runtimes-short too, the others only in make runtimes (under TCG every container
    costs seconds, so make check runs each check once, with one runtime or the other)."""
    return pytest.mark.parametrize(
        ("oci_runtime", "variant"),
        [
            pytest.param(rt, variant, id=f"{rt}-{variant}", marks=() if short else SLOW)
            for rt, variant, short in cases
        ],
        indirect=["oci_runtime"],
    )


ANNOTATIONS = {
    "io.kubernetes.container.name": "web",
    "io.kubernetes.pod.namespace": "shop",
    "org.ptag.tag.team": "payments",
    "org.example.ignored": "x",
}
INIT = ["sh", "-c", "sleep 600 & wait"]


def expected_tags(cid: str, runtime: str, prefix: str = "") -> list[tuple[str, str]]:
    """What ptag oci-hook would set for this container (the order included)."""
    return [
        (prefix + "container.id", cid),
        (prefix + "container.runtime", runtime),
        (prefix + "container.name", "web"),
        (prefix + "k8s.pod.namespace", "shop"),
        (prefix + "team", "payments"),
    ]


def three(pids: set[int]) -> set[int] | None:
    return pids if len(pids) == 3 else None


def ptag_ps_pids(selector: str) -> set[int]:
    p = run(["ptag", "ps", "-n", "-o", "pid", "-l", selector])
    assert p.returncode in (0, 1), p.stderr  # 1: nothing listed
    return {int(x) for x in p.stdout.split()}


def start_container(rt: OciRuntime, tmp: Path, cid: str, *, create: bool) -> tuple[Path, int]:
    """A container through ptag-runtime (``run -d``, or ``create`` + ``start``); its
    bundle and init PID, once the init's child is running."""
    b = make_bundle(tmp / cid, INIT, annotations=ANNOTATIONS, spec_runtime=rt.name)
    rt.note(cid)
    log = tmp / f"{cid}.out"
    if create:
        status = run_detached(rt.wrapped("create", "--bundle", str(b), cid), log)
        assert status == 0, log.read_text()
        st = rt.state(cid)
        assert st is not None and st["status"] == "created", st
        pid = rt.init_pid(cid)
        # tagged before the user's program: the created (not yet started) init has them
        assert list(proc_tags(pid).items()) == [(k, (v, 0)) for k, v in expected_tags(cid, rt.name)]
        status = run_detached(rt.wrapped("start", cid), log)
        assert status == 0, log.read_text()
    else:
        status = run_detached(rt.wrapped("run", "-d", "--bundle", str(b), cid), log)
        assert status == 0, log.read_text()
    assert log.read_text() == ""  # no warning: nothing fell back to best effort
    pid = rt.init_pid(cid)
    wait_for("the init's child", lambda: children(pid))
    return b, pid


@per_runtime(
    ("crun", "run-d", True),
    ("runc", "create-start", True),
    ("crun", "create-start", False),
    ("runc", "run-d", False),
)
def test_every_process_carries_the_container_tags(
    oci_runtime: OciRuntime, tmp_path: Path, variant: str
) -> None:
    rt = oci_runtime
    create = variant == "create-start"
    cid = f"web-{rt.name}-{'cs' if create else 'rd'}"
    _bundle, init = start_container(rt, tmp_path, cid, create=create)
    (child,) = children(init)
    want = {k: (v, 0) for k, v in expected_tags(cid, rt.name)}

    # exec -d: a process the runtime forks and moves in; not the init's descendant
    log = tmp_path / "exec.out"
    status = run_detached(rt.wrapped("exec", "-d", cid, "sleep", "601"), log)
    assert status == 0, log.read_text()
    assert log.read_text() == ""
    members = wait_for("the exec'd process", lambda: three(rt.pids(cid)))
    assert isinstance(members, set)
    (execd,) = members - {init, child}
    assert execd not in children(init)

    for pid in (init, child, execd):
        assert proc_tags(pid) == want, f"PID {pid}"
    # ptag ps lists exactly the container's processes, as the runtime knows them
    assert ptag_ps_pids(f"container.id={cid}") == members == {init, child, execd}

    # a foreground exec sees the same tags from inside, owned by root
    p = run(rt.wrapped("exec", cid, "cat", "/proc/self/ptags"))
    assert p.returncode == 0, p.stderr
    assert p.stdout == "".join(f"0 {k}={v}\n" for k, v in expected_tags(cid, rt.name))

    # pass-through commands reach the runtime: kill and delete through the wrapper
    p = run(rt.wrapped("kill", cid, "KILL"))
    assert p.returncode == 0, p.stderr
    wait_for("the container to stop", lambda: (rt.state(cid) or {}).get("status") == "stopped")
    p = run(rt.wrapped("delete", cid))
    assert p.returncode == 0, p.stderr
    assert rt.state(cid) is None
    assert ptag_ps_pids(f"container.id={cid}") == set()


@per_runtime(
    ("crun", "json", True),
    ("runc", "text", True),
    ("crun", "text", False),
    ("runc", "json", False),
)
def test_bad_annotation_fails_closed(oci_runtime: OciRuntime, tmp_path: Path, variant: str) -> None:
    rt = oci_runtime
    log_format = variant
    cid = rt.note(f"bad-{rt.name}-{log_format}")
    b = make_bundle(
        tmp_path / cid,
        ["sh", "-c", "touch /container-ran"],
        annotations={"org.ptag.tag.bad key": "v"},
        spec_runtime=rt.name,
    )
    log = tmp_path / "runtime.log"
    p = run(
        rt.wrapped("--log", str(log), "--log-format", log_format, "run", "--bundle", str(b), cid)
    )
    assert p.returncode == 125
    line = p.stderr.strip()
    assert "\n" not in line
    assert line.startswith(
        f"ptag-runtime: run {cid}: cannot set tag 'bad key' from annotation "
        "'org.ptag.tag.bad key': invalid character ' '"
    )
    assert line.endswith(f"; {rt.name} not run (PTAG_RUNTIME_BEST_EFFORT=1 runs it untagged)")
    # the real runtime never ran: no container, no command, only our line in its log
    assert rt.state(cid) is None
    assert not (b / "rootfs" / "container-ran").exists()
    (entry,) = log.read_text().splitlines()
    if log_format == "json":
        doc = json.loads(entry)
        assert (doc["level"], doc["msg"]) == ("error", line)
    else:
        m = re.fullmatch(r'time="[^"]+" level=error msg=(".*")', entry)
        assert m and json.loads(m.group(1)) == line


@per_runtime(("crun", "bare", True), ("runc", "bare", False))
def test_exec_into_an_untagged_container_fails_closed(
    oci_runtime: OciRuntime, tmp_path: Path, variant: str
) -> None:
    """A container created by the bare runtime: its init has no tags to copy, so exec
    through the wrapper refuses (an untagged exec is the hole this closes)."""
    rt = oci_runtime
    cid = rt.note(f"bare-{rt.name}")
    b = make_bundle(tmp_path / cid, INIT, spec_runtime=rt.name)
    assert run_detached(rt.cmd("run", "-d", "--bundle", str(b), cid), tmp_path / "out") == 0
    init = rt.init_pid(cid)
    assert proc_tags(init) == {}
    p = run(rt.wrapped("exec", cid, "touch", "/exec-ran"))
    assert p.returncode == 125
    assert p.stderr == (
        f"ptag-runtime: exec {cid}: init PID {init} of container '{cid}' carries no "
        "'container.id' tag (was it created through ptag-runtime or ptag oci-hook?), so the "
        f"exec'd process would be untagged; {rt.name} not run (PTAG_RUNTIME_BEST_EFFORT=1 "
        "runs it untagged)\n"
    )
    assert not (b / "rootfs" / "exec-ran").exists()
    # best effort, asked for: it runs, untagged, with a warning
    p = run(
        rt.wrapped("exec", cid, "touch", "/exec-ran"), env=clean_env(PTAG_RUNTIME_BEST_EFFORT="1")
    )
    assert p.returncode == 0, p.stderr
    assert p.stderr.endswith(f"; running {rt.name} untagged (best effort)\n")
    assert (b / "rootfs" / "exec-ran").exists()


USER = 1000  # the container's user in the owner tests


def tag_as_user(pid: int, *pairs: str) -> None:
    """Tag *pid* as uid USER would from inside its container: through a pidfd with
    USER's credentials (Yama scope 0, set by :func:`yama_scope_0`)."""
    p = run(["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups",
             "ptag", "set", "-p", str(pid), *pairs])  # fmt: skip
    assert p.returncode == 0, p.stderr


@pytest.fixture
def yama_scope_0() -> Iterator[None]:
    """Yama's ptrace_scope 0 for the test (a sibling of the same uid may tag), then
    the scope it found."""
    path = Path("/proc/sys/kernel/yama/ptrace_scope")
    saved = path.read_text().strip() if path.exists() else None
    assert saved != "3", "Yama ptrace_scope is 3 (only a reboot lowers it)"
    if saved is not None:
        path.write_text("0")
    yield
    if saved is not None:
        path.write_text(saved)


def user_bundle(rt: OciRuntime, tmp: Path, cid: str) -> Path:
    """A bundle whose processes run as uid USER."""
    b = make_bundle(tmp / cid, INIT, annotations=ANNOTATIONS, spec_runtime=rt.name)
    path = b / "config.json"
    config = json.loads(path.read_text())
    config["process"]["user"] = {"uid": USER, "gid": USER}
    path.write_text(json.dumps(config, indent=2))
    return b


@per_runtime(("crun", "owners", True), ("runc", "owners", False))
def test_exec_copies_only_the_runtimes_tags(
    oci_runtime: OciRuntime, tmp_path: Path, variant: str, yama_scope_0: None
) -> None:
    """A tag that the container's user set on its init (a key the runtime left free)
    is not copied to an exec'd process: the copy would be owned by root, the
    runtime's uid, and pass for the runtime's word."""
    rt = oci_runtime
    cid = rt.note(f"owners-{rt.name}")
    b = user_bundle(rt, tmp_path, cid)
    log = tmp_path / "out"
    assert run_detached(rt.wrapped("run", "-d", "--bundle", str(b), cid), log) == 0, log.read_text()
    init = rt.init_pid(cid)
    tag_as_user(init, "k8s.pod.name=forged")
    assert proc_tags(init)["k8s.pod.name"] == ("forged", USER)
    p = run(rt.wrapped("exec", cid, "cat", "/proc/self/ptags"))
    assert p.returncode == 0, p.stderr
    assert p.stdout == "".join(f"0 {k}={v}\n" for k, v in expected_tags(cid, rt.name))
    # ptag-exec --from copies by the same rule
    p = run(["ptag-exec", "--from", str(init), "cat", "/proc/self/ptags"])
    assert p.returncode == 0, p.stderr
    assert p.stdout == "".join(f"0 {k}={v}\n" for k, v in expected_tags(cid, rt.name))
    # ... for the user, only the user's own tag
    p = run(["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups",
             "ptag-exec", "--from", str(init), "cat", "/proc/self/ptags"])  # fmt: skip
    assert (p.returncode, p.stdout) == (0, f"{USER} k8s.pod.name=forged\n"), p.stderr
    # ... and nothing at all for a user who owns none of them
    other = USER + 1
    p = run(["setpriv", f"--reuid={other}", f"--regid={other}", "--clear-groups",
             "ptag-exec", "--from", str(init), "true"])  # fmt: skip
    assert (p.returncode, p.stderr) == (
        125,
        f"ptag-exec: --from {init}: none of its 6 tags is owned by uid {other} (owners: 0, "
        f"{USER}), and a copy would be uid {other}'s; run ptag-exec as the tags' owner\n",
    )


@per_runtime(("runc", "forged-id", True), ("crun", "forged-id", False))
def test_exec_refuses_a_container_id_the_container_set(
    oci_runtime: OciRuntime, tmp_path: Path, variant: str, yama_scope_0: None
) -> None:
    """A container started without ptag-runtime whose user tags its init with
    container.id itself: exec through the wrapper refuses to vouch for it."""
    rt = oci_runtime
    cid = rt.note(f"forged-{rt.name}")
    b = user_bundle(rt, tmp_path, cid)
    assert run_detached(rt.cmd("run", "-d", "--bundle", str(b), cid), tmp_path / "out") == 0
    init = rt.init_pid(cid)
    tag_as_user(init, f"container.id={cid}")
    p = run(rt.wrapped("exec", cid, "touch", "/tmp/exec-ran"))
    assert p.returncode == 125
    assert p.stderr == (
        f"ptag-runtime: exec {cid}: init PID {init} of container '{cid}' carries "
        f"container.id='{cid}' set by uid {USER}, not by this runtime's uid 0: not a tag of "
        "ptag-runtime's create, so the exec'd process would be vouched for by a tag anyone "
        f"could set; {rt.name} not run (PTAG_RUNTIME_BEST_EFFORT=1 runs it untagged)\n"
    )
    assert not (b / "rootfs" / "tmp" / "exec-ran").exists()


@per_runtime(("crun", "precheck", True), ("runc", "precheck", False))
def test_best_effort_is_all_or_nothing(
    oci_runtime: OciRuntime, tmp_path: Path, variant: str
) -> None:
    """A conflict on the container's last tag, or no room for its tags, is found
    before the first is set: best effort then runs the container untagged, not
    with the first tags half set."""
    rt = oci_runtime
    for case, outer in (
        ("conflict", ["-t", "team=other"]),  # team is the 5th of the 5 tags
        ("full", [arg for i in range(29) for arg in ("-t", f"k{i}=v")]),  # 29 + 5 > 32
    ):
        cid = rt.note(f"precheck-{case}-{rt.name}")
        b = make_bundle(tmp_path / cid, INIT, annotations=ANNOTATIONS, spec_runtime=rt.name)
        log = tmp_path / f"{cid}.out"
        cmd = ["ptag-exec", *outer, "--", *rt.wrapped("run", "-d", "--bundle", str(b), cid)]
        env = clean_env(PTAG_RUNTIME_BEST_EFFORT="1")
        assert run_detached(cmd, log, env=env) == 0, log.read_text()
        want = (
            f"ptag-runtime: run {cid}: cannot set tag 'team': already set to 'other' (tags "
            "can never be changed or removed) (a runtime inside a tagged container needs "
            "keys of its own: --ptag-key-prefix inner.)"
            if case == "conflict"
            else f"ptag-runtime: run {cid}: cannot set 5 tags: this process already carries "
            "29 (inherited) and a process has at most 32"
        )
        assert log.read_text() == f"{want}; running {rt.name} untagged (best effort)\n"
        init = rt.init_pid(cid)
        assert "container.id" not in proc_tags(init)
        assert len(proc_tags(init)) == (1 if case == "conflict" else 29)


@per_runtime(("runc", "nested", True), ("crun", "nested", False))
def test_nested_runtime_needs_a_key_prefix(
    oci_runtime: OciRuntime, tmp_path: Path, variant: str
) -> None:
    """The wrapper inside a tagged container (here: under ptag-exec's tags): the outer
    container.id cannot change, as with ptag oci-hook; a key prefix gives the inner
    runtime keys of its own, and its containers carry both."""
    rt = oci_runtime
    outer = ["ptag-exec", "-t", "container.id=outer", "-t", "team=payments", "--"]
    cid = rt.note(f"inner-{rt.name}")
    b = make_bundle(tmp_path / cid, INIT, annotations=ANNOTATIONS, spec_runtime=rt.name)
    p = run([*outer, *rt.wrapped("run", "-d", "--bundle", str(b), cid)])
    assert p.returncode == 125
    assert p.stderr == (
        f"ptag-runtime: run {cid}: cannot set tag 'container.id': already set to 'outer' "
        "(tags can never be changed or removed) (a runtime inside a tagged container needs "
        f"keys of its own: --ptag-key-prefix inner.); {rt.name} not run "
        "(PTAG_RUNTIME_BEST_EFFORT=1 runs it untagged)\n"
    )
    assert rt.state(cid) is None
    log = tmp_path / "out"
    cmd = rt.wrapped("run", "-d", "--bundle", str(b), cid, ptag_opts=["--ptag-key-prefix=inner."])
    assert run_detached([*outer, *cmd], log) == 0, log.read_text()
    init = rt.init_pid(cid)
    inner = {k: (v, 0) for k, v in expected_tags(cid, rt.name, prefix="inner.")}
    assert proc_tags(init) == {"container.id": ("outer", 0), "team": ("payments", 0), **inner}
    # exec finds the inner id behind the same prefix
    p = run(
        [
            *outer,
            *rt.wrapped(
                "exec", cid, "cat", "/proc/self/ptags", ptag_opts=["--ptag-key-prefix", "inner."]
            ),
        ]
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[:2] == ["0 container.id=outer", "0 team=payments"]
    assert sorted(lines[2:]) == sorted(f"0 {k}={v}" for k, (v, _o) in inner.items())
    # ptag explain names both layers
    p = run(["ptag", "explain", str(init)])
    assert f"container {cid}" in p.stdout or cid[:12] in p.stdout, p.stdout
    assert "nested in" in p.stdout, p.stdout
