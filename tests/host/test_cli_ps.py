"""``ptag ps``: columns, selectors, formats, the tree, and the host kernel."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest
from cli_run import no_ptags, run_module

import ptag
from ptag import ProcessInfo, Tag
from ptag.cli import main as ptag_main
from ptag.cli import ps


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_module("ptag.cli.main", *args)


def tags(*pairs: tuple[str, str], owner: int = 0) -> dict[str, Tag]:
    return {k: Tag(k, v, owner) for k, v in pairs}


CID = "4f1e0c8d2b7a" + "0" * 52
FAKE = [
    ProcessInfo(1, 0, 0, "init", {}, "/init.scope"),
    ProcessInfo(
        100,
        1,
        0,
        "containerd-shim",
        {},
        "/system.slice/containerd.service",
    ),
    ProcessInfo(
        101,
        100,
        1000,
        "sh",
        tags(("container.id", CID), ("container.name", "web")),
        f"/system.slice/docker-{CID}.scope",
    ),
    ProcessInfo(
        102,
        101,
        1000,
        "sleep",
        tags(("container.id", CID), ("container.name", "web"), ("job", "a,b c")),
        f"/system.slice/docker-{CID}.scope",
    ),
    ProcessInfo(200, 1, 0, "escapee", tags(("container.id", CID)), "/user.slice"),
]


#: The ``cgroup`` argument of each fake process_iter call.
cgroup_asked: list[bool] = []


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def process_iter(*, pids: object = None, cgroup: bool = True) -> Iterator[ProcessInfo]:
        wanted = None if pids is None else set(pids)  # type: ignore[call-overload]
        cgroup_asked.append(cgroup)
        found = [p for p in FAKE if wanted is None or p.pid in wanted]
        if not cgroup:  # as the library does: the path is not read
            found = [ProcessInfo(p.pid, p.ppid, p.uid, p.comm, p.tags, None) for p in found]
        return iter(found)

    # the kernel "supports" ptags: ps asks /proc, explain asks supported()
    monkeypatch.setattr(ptag, "process_iter", process_iter)
    monkeypatch.setattr(ps, "_proc_shows_tags", lambda: True)
    monkeypatch.setattr(ptag, "supported", lambda: True)
    monkeypatch.setenv("COLUMNS", "80")
    cgroup_asked.clear()
    yield
    cgroup_asked.clear()


def ptag_ps(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = ptag_main.main(["ps", *args])
    out, err = capsys.readouterr()
    return status, out, err


# -- selectors ---------------------------------------------------------------


def test_parse_selector() -> None:
    reqs = ps.parse_selector("a=1,b==2,c!=3,d,!e")
    assert [(r.key, r.op, r.value) for r in reqs] == [
        ("a", "=", "1"),
        ("b", "=", "2"),
        ("c", "!=", "3"),
        ("d", "exists", None),
        ("e", "!exists", None),
    ]
    assert [str(r) for r in reqs] == ["a=1", "b=2", "c!=3", "d", "!e"]


def test_parse_selector_values() -> None:
    (r,) = ps.parse_selector("k=")
    assert (r.op, r.value) == ("=", "")
    (r,) = ps.parse_selector("k=a=b")
    assert r.value == "a=b"
    (r,) = ps.parse_selector("k=a!=b")
    assert (r.op, r.value) == ("=", "a!=b")
    (r,) = ps.parse_selector("k!==b")
    assert (r.op, r.value) == ("!=", "=b")
    (r,) = ps.parse_selector("k===b")
    assert (r.op, r.value) == ("=", "=b")
    (r,) = ps.parse_selector(r"k=a\,b\\c")
    assert r.value == "a,b\\c"
    (r,) = ps.parse_selector(" k = v ")
    assert (r.key, r.value) == ("k", " v ")


@pytest.mark.parametrize("bad", ["", ",", "a,", "=v", "!", "!=v", "a b", "a=\x01", "a\\", "-a"])
def test_parse_selector_errors(bad: str) -> None:
    with pytest.raises(ValueError, match=r"selector|term|backslash"):
        ps.parse_selector(bad)


def test_requirement_matches() -> None:
    t = tags(("a", "1"), ("b", "2"))
    assert ps.parse_selector("a=1")[0].matches(t)
    assert not ps.parse_selector("a=2")[0].matches(t)
    assert ps.parse_selector("a!=2")[0].matches(t)
    assert ps.parse_selector("z!=2")[0].matches(t)  # Kubernetes: missing key matches !=
    assert ps.parse_selector("b")[0].matches(t)
    assert not ps.parse_selector("!b")[0].matches(t)
    assert ps.parse_selector("!z")[0].matches(t)


# -- columns -----------------------------------------------------------------


def test_parse_columns() -> None:
    assert [c.name for c in ps.parse_columns(None)] == list(ps.DEFAULT_COLUMNS)
    assert [c.name for c in ps.parse_columns(["pid,comm"])] == ["pid", "comm"]
    assert [c.name for c in ps.parse_columns(["+cgroup"])] == [*ps.DEFAULT_COLUMNS, "cgroup"]
    assert [c.name for c in ps.parse_columns(["PID", "+UID"])] == ["pid", "uid"]
    assert [c.name for c in ps.parse_columns(["pid,tag:container.id"])] == [
        "pid",
        "tag:container.id",
    ]
    with pytest.raises(ValueError, match="unknown column: 'nope'"):
        ps.parse_columns(["nope"])
    with pytest.raises(ValueError, match="invalid column 'tag:a b'"):
        ps.parse_columns(["tag:a b"])
    with pytest.raises(ValueError, match="empty column"):
        ps.parse_columns(["pid,,comm"])


def test_parse_pids() -> None:
    assert ps.parse_pids(["1,2", "3 4", "2"]) == [1, 2, 3, 4]
    for bad in ("", "x", "0", "-1", "1,,x"):
        with pytest.raises(ValueError, match="PID"):
            ps.parse_pids([bad])


def test_build_forest() -> None:
    roots = ps.build_forest(FAKE)
    assert [n.row.pid for n in roots] == [1]
    assert [n.row.pid for n in roots[0].children] == [100, 200]
    # a cycle (PID reuse mid-scan) does not lose processes
    cyc = [ProcessInfo(5, 6, 0, "a", {}, None), ProcessInfo(6, 5, 0, "b", {}, None)]
    forest = ps.build_forest(cyc)
    assert sorted(n.row.pid for n in ps._walk(forest)) == [5, 6]


# -- the command, on fake processes -----------------------------------------


@pytest.mark.usefixtures("fake")
def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = ptag_ps(capsys)
    assert status == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "PPID", "USER", "COMM", "TAGS"]
    assert all(len(line) <= 80 for line in lines)
    assert any(line.endswith("…") for line in lines)
    assert lines[3].split()[:4] == ["101", "100", "1000", "sh"] or "sh" in lines[3]


@pytest.mark.usefixtures("fake")
def test_table_width_follows_columns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    _, out, _ = ptag_ps(capsys)
    assert not any(line.endswith("…") for line in out.splitlines())


@pytest.mark.usefixtures("fake")
def test_selector_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = ptag_ps(capsys, "-n", "-o", "pid", "-l", "container.name=web")
    assert (status, out.split()) == (0, ["101", "102"])
    status, out, _ = ptag_ps(capsys, "-n", "-o", "pid", "-l", "container.id,!container.name")
    assert (status, out.split()) == (0, ["200"])
    status, out, _ = ptag_ps(capsys, "-n", "-o", "pid", "-l", "container.id", "-l", "job")
    assert (status, out.split()) == (0, ["102"])
    status, out, _ = ptag_ps(capsys, "-n", "-l", "container.name=db")
    assert (status, out) == (1, "")
    status, _, err = ptag_ps(capsys, "-l", "bad key")
    assert status == 2
    assert err.startswith("ptag: invalid selector term 'bad key'")


@pytest.mark.usefixtures("fake")
def test_pid_filter(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = ptag_ps(capsys, "-n", "-o", "pid", "-p", "200,1")
    assert (status, out.split()) == (0, ["1", "200"])
    status, out, _ = ptag_ps(capsys, "-p", "999")
    assert status == 1


@pytest.mark.usefixtures("fake")
def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = ptag_ps(capsys, "-J", "-o", "pid,user,uid,tags,owner,cgroup,tag:job")
    assert status == 0
    doc = json.loads(out)
    row = doc["processes"][3]
    assert row["pid"] == 102
    assert row["uid"] == 1000
    assert isinstance(row["user"], str)
    assert row["tags"] == {"container.id": CID, "container.name": "web", "job": "a,b c"}
    assert row["owner"] == {"container.id": 0, "container.name": 0, "job": 0}
    assert row["cgroup"] == f"/system.slice/docker-{CID}.scope"
    assert row["tag:job"] == "a,b c"
    assert doc["processes"][0]["tag:job"] is None


@pytest.mark.usefixtures("fake")
def test_raw(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = ptag_ps(capsys, "-r", "-n", "-o", "pid,tag:job,tags", "-p", "102")
    assert status == 0
    fields = out.rstrip("\n").split(" ")
    assert fields[0] == "102"
    assert fields[1] == "a,b\\x20c"
    assert fields[2].startswith(f"container.id={CID},")  # never truncated


@pytest.mark.usefixtures("fake")
def test_tree(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = ptag_ps(capsys, "--tree", "-o", "pid,comm")
    assert status == 0
    assert out.splitlines()[1:] == [
        "  1 init",
        "100 ├─containerd-shim",
        "101 │ └─sh",
        "102 │   └─sleep",
        "200 └─escapee",
    ]
    _, out, _ = ptag_ps(capsys, "--tree", "-J", "-o", "pid")
    doc = json.loads(out)
    assert doc["processes"][0]["children"][0]["children"][0]["children"] == [{"pid": 102}]


@pytest.mark.usefixtures("fake")
def test_tree_with_selector_makes_roots(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = ptag_ps(capsys, "--tree", "-n", "-o", "pid,comm", "-l", "container.id")
    assert out.splitlines() == ["101 sh", "102 └─sleep", "200 escapee"]


@pytest.mark.usefixtures("fake")
def test_owner_column(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    FAKE.append(
        ProcessInfo(300, 1, 0, "x", {"a": Tag("a", "1", 0), "b": Tag("b", "2", 4242)}, None)
    )
    try:
        _, out, _ = ptag_ps(capsys, "-n", "-o", "pid,owner,cgroup", "-p", "300")
    finally:
        FAKE.pop()
    assert out.split() == ["300", "root,4242", "-"]


@pytest.mark.usefixtures("fake")
def test_guess_column(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = ptag_ps(capsys, "-r", "-n", "-o", "pid,guess", "-p", "1,102")
    assert out.splitlines() == ["1 ", f"102 docker\\x20{CID[:12]}"]
    _, out, _ = ptag_ps(capsys, "-J", "-o", "guess", "-p", "1,102")
    doc = json.loads(out)
    assert doc["processes"][0]["guess"] is None
    assert doc["processes"][1]["guess"] == {
        "runtime": "docker",
        "id": CID,
        "name": None,
        "pod_uid": None,
    }


@pytest.mark.usefixtures("fake")
@pytest.mark.parametrize(
    ("columns", "needs_cgroup"),
    [
        ((), False),
        (("-o", "pid,tags,owner,tag:job"), False),
        (("-o", "+cgroup"), True),
        (("-o", "pid,guess"), True),
        (("-J", "-o", "CGROUP"), True),
        (("-r", "-o", "pid", "-o", "guess"), True),
    ],
)
def test_cgroup_is_read_only_for_its_columns(
    capsys: pytest.CaptureFixture[str], columns: tuple[str, ...], needs_cgroup: bool
) -> None:
    """The scan skips /proc/<pid>/cgroup unless a column shows the path."""
    status, out, _ = ptag_ps(capsys, *columns)
    assert status == 0
    assert cgroup_asked == [needs_cgroup]
    if needs_cgroup:
        assert "docker" in out or "/init.scope" in out  # the fake paths, read


def test_note_comes_from_proc(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The note says what the listing shows: whether /proc has ptags files, asked
    without a system call (ptag.supported() would load ctypes), unless /proc shows
    neither this process nor an init: then the kernel is asked."""
    asked: list[bool] = []

    def supported() -> bool:
        asked.append(True)
        return False

    monkeypatch.setattr(ptag, "process_iter", lambda **_kw: iter(FAKE[:1]))
    monkeypatch.setattr(ptag, "supported", supported)
    monkeypatch.setattr(ps, "proc_has_ptags", lambda: False)  # a kernel without ptags
    status, out, err = ptag_ps(capsys, "-n", "-o", "pid")
    assert (status, out) == (0, "1\n")
    assert err.startswith("ptag: note: kernel lacks ptag support")
    monkeypatch.setattr(ps, "proc_has_ptags", lambda: True)  # a ptag kernel
    assert ptag_ps(capsys, "-n", "-o", "pid") == (0, "1\n", "")
    assert asked == []
    monkeypatch.setattr(ps, "proc_has_ptags", lambda: None)  # /proc shows nothing to ask
    status, out, err = ptag_ps(capsys, "-n", "-o", "pid")
    assert err.startswith("ptag: note: kernel lacks ptag support")
    assert asked == [True]


def test_unreadable_fields_show_dash() -> None:
    info = ProcessInfo(7, 1, 0, "x", {}, None)
    assert ps.cgroup_text(info) == "-"
    assert ps.user_name(None) == "-"


# -- the real thing, on this host --------------------------------------------


def test_host_ps_lists_this_process() -> None:
    p = run("ps", "-n", "-o", "pid,ppid,comm", "-p", str(os.getpid()))
    assert p.returncode == 0
    assert p.stdout.split()[:2] == [str(os.getpid()), str(os.getppid())]
    assert "Traceback" not in p.stderr


@no_ptags
def test_host_ps_note_on_kernel_without_ptags() -> None:
    p = run("ps")
    assert p.returncode == 0
    assert p.stderr.count("\n") == 1
    assert p.stderr.startswith("ptag: note: kernel lacks ptag support")
    assert len(p.stdout.splitlines()) > 1
    for line in p.stdout.splitlines():
        assert len(line) <= 80


@no_ptags
def test_host_ps_json_and_selector() -> None:
    p = run("ps", "-J", "-o", "+cgroup,owner,tag:container.id")
    doc = json.loads(p.stdout)
    assert doc["processes"]
    assert all(r["tags"] == {} for r in doc["processes"])
    p = run("ps", "-l", "container.id")
    assert p.returncode == 1
    p = run("ps", "-n", "-l", "!container.id", "-p", str(os.getpid()), "-o", "pid")
    assert (p.returncode, p.stdout.strip()) == (0, str(os.getpid()))


def test_host_ps_tree_runs() -> None:
    p = run("ps", "--tree")
    assert p.returncode == 0
    assert "Traceback" not in p.stderr
