"""/proc parsing (from sample files in tests/data) and ``process_iter`` on this host."""

from __future__ import annotations

import os
import pickle
import signal
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

import ptag
from ptag import _proc
from ptag._types import ProcessInfo, Tag


def load(data_dir: str, name: str) -> bytes:
    return Path(data_dir, name).read_bytes()


# --- ptags ---------------------------------------------------------------------------


def test_parse_empty(data_dir: str) -> None:
    assert ptag.parse_proc_tags(load(data_dir, "ptags-empty")) == {}


def test_parse_three_in_order(data_dir: str) -> None:
    tags = ptag.parse_proc_tags(load(data_dir, "ptags-three"))
    assert list(tags) == ["container.id", "k8s.pod.name", "note"]
    assert tags["container.id"] == Tag("container.id", "0123456789abcdef", 0)
    assert tags["k8s.pod.name"] == Tag("k8s.pod.name", "web-1", 1000)
    # values keep spaces and '=': the key ends at the first '='
    assert tags["note"] == Tag("note", "a b=c  d ", 65534)


def test_parse_utf8_and_raw_bytes(data_dir: str) -> None:
    tags = ptag.parse_proc_tags(load(data_dir, "ptags-utf8"))
    assert tags["name"].value == "café"
    assert tags["raw"].value == "\udcff\udcfe"
    assert tags["raw"].value.encode("utf-8", "surrogateescape") == b"\xff\xfe"
    assert tags["empty"].value == ""


def test_parse_maximum(data_dir: str) -> None:
    tags = ptag.parse_proc_tags(load(data_dir, "ptags-max"))
    assert len(tags) == ptag.MAX_TAGS
    for i, t in enumerate(tags.values()):
        assert len(t.key) == ptag.KEY_MAX and len(t.value) == ptag.VALUE_MAX
        assert t.owner == i
        ptag.validate_key(t.key)
        ptag.validate_value(t.value)


@pytest.mark.parametrize("name", ["ptags-malformed", "ptags-no-newline"])
def test_parse_malformed(data_dir: str, name: str) -> None:
    with pytest.raises(ValueError, match="ptags"):
        ptag.parse_proc_tags(load(data_dir, name))


def test_tag_is_frozen() -> None:
    t = Tag("k", "v", 0)
    with pytest.raises(AttributeError):
        t.value = "w"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del t.key  # type: ignore[misc]
    assert hash(t) == hash(Tag("k", "v", 0))


def test_records_behave_like_frozen_dataclasses() -> None:
    t = Tag(key="k", value="v", owner=7)
    assert t == Tag("k", "v", 7)
    assert t != Tag("k", "v", 8)
    assert t != ("k", "v", 7)
    assert repr(t) == "Tag(key='k', value='v', owner=7)"
    assert pickle.loads(pickle.dumps(t)) == t
    info = ProcessInfo(1, 0, 0, "init", {"k": t}, "/init.scope")
    fields = (info.pid, info.ppid, info.uid, info.comm, info.cgroup)
    assert fields == (1, 0, 0, "init", "/init.scope")
    assert repr(info).startswith("ProcessInfo(pid=1, ppid=0, uid=0, comm='init', tags=")
    assert pickle.loads(pickle.dumps(info)) == info
    assert weakref.ref(t)() is t
    assert Tag.__match_args__ == ("key", "value", "owner")
    assert ProcessInfo.__match_args__ == ("pid", "ppid", "uid", "comm", "tags", "cgroup")
    with pytest.raises(TypeError):
        Tag("k", "v")  # type: ignore[call-arg]


# --- stat and cgroup ------------------------------------------------------------------


def test_parse_stat(data_dir: str) -> None:
    assert _proc._parse_stat(load(data_dir, "stat-simple")) == (1234, "bash", 1200)
    assert _proc._parse_stat(load(data_dir, "stat-kthread")) == (2, "kthreadd", 0)


def test_parse_stat_comm_with_parens_and_spaces(data_dir: str) -> None:
    assert _proc._parse_stat(load(data_dir, "stat-paren")) == (4321, "a) (b c", 77)


def test_parse_cgroup(data_dir: str) -> None:
    v2 = _proc._parse_cgroup(load(data_dir, "cgroup-v2"))
    assert v2 is not None and v2.startswith("/system.slice/docker-0123")
    assert _proc._parse_cgroup(load(data_dir, "cgroup-v1")) == "/docker/0123abcd"
    assert _proc._parse_cgroup(load(data_dir, "cgroup-hybrid")) == "/"
    assert _proc._parse_cgroup(b"") is None


# --- read_proc_tags --------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, "", "1/task/1", "../1", "abc", "\u0661"])
def test_read_proc_tags_rejects_bad_pid(bad: int | str) -> None:
    with pytest.raises(ValueError, match="pid"):
        ptag.read_proc_tags(bad)


def test_read_proc_tags_rejects_bad_type() -> None:
    with pytest.raises(TypeError):
        ptag.read_proc_tags(True)
    with pytest.raises(TypeError):
        ptag.read_proc_tags(1.0)  # type: ignore[arg-type]


def dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_read_proc_tags_of_missing_process() -> None:
    pid = dead_pid()
    with pytest.raises(ProcessLookupError) as ei:
        ptag.read_proc_tags(pid)
    assert isinstance(ei.value, ptag.TagProcessLookupError)
    assert ei.value.pid == pid


@pytest.mark.skipif(ptag.supported(), reason="this kernel supports ptags")
def test_read_proc_tags_without_kernel_support() -> None:
    for pid in ("self", "thread-self", os.getpid(), str(os.getpid())):
        with pytest.raises(ptag.NotSupportedError):
            ptag.read_proc_tags(pid)


# --- process_iter ---------------------------------------------------------------------


def test_process_iter_finds_self() -> None:
    me = [p for p in ptag.process_iter() if p.pid == os.getpid()]
    assert len(me) == 1
    info = me[0]
    assert info.ppid == os.getppid()
    assert info.uid == os.geteuid()
    assert info.comm == Path("/proc/self/comm").read_text().rstrip("\n")
    assert isinstance(info.tags, MappingProxyType)
    if not ptag.supported():
        assert info.tags == {}
    if os.path.exists("/proc/self/cgroup"):
        assert info.cgroup == _proc._parse_cgroup(Path("/proc/self/cgroup").read_bytes())


def test_process_iter_includes_init_and_is_sorted_like_proc() -> None:
    pids = [p.pid for p in ptag.process_iter()]
    assert pids and len(pids) == len(set(pids))
    assert os.getpid() in pids


def test_process_iter_with_pids_skips_vanished() -> None:
    gone = dead_pid()
    infos = list(ptag.process_iter(pids=[os.getpid(), gone, os.getppid()]))
    assert [i.pid for i in infos] == [os.getpid(), os.getppid()]


def test_process_iter_skips_process_exiting_mid_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that exits between listing /proc and reading it is skipped."""
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    real_listdir: Callable[..., Any] = os.listdir

    def listdir_then_reap(path: Any) -> list[str]:
        names: list[str] = real_listdir(path)
        assert str(pid) in names
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return names

    monkeypatch.setattr(os, "listdir", listdir_then_reap)
    infos = list(ptag.process_iter())
    assert pid not in [i.pid for i in infos]
    assert os.getpid() in [i.pid for i in infos]


def test_process_iter_zombie_and_odd_comm() -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        with open("/proc/self/comm", "w") as f:
            f.write("a) (b c")
        os.write(w, b"x")
        os._exit(0)
    os.close(w)
    try:
        assert os.read(r, 1) == b"x"
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        (info,) = ptag.process_iter(pids=[pid])
        assert (info.pid, info.ppid, info.comm) == (pid, os.getpid(), "a) (b c")
    finally:
        os.close(r)
        os.waitpid(pid, 0)


def test_process_iter_never_raises_for_unreadable_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(name: str, dfd: int) -> bytes:
        raise PermissionError(13, "denied")

    monkeypatch.setattr(_proc, "_read_at", boom)
    (info,) = ptag.process_iter(pids=[os.getpid()])
    assert info.cgroup is None and info.tags == {}


def test_process_iter_bad_pids_are_skipped() -> None:
    assert list(ptag.process_iter(pids=[0, -1, 2**22 + 7])) == []


def test_process_iter_without_cgroup(monkeypatch: pytest.MonkeyPatch) -> None:
    """``cgroup=False`` leaves /proc/<pid>/cgroup unread and ``cgroup`` None."""
    (full,) = ptag.process_iter(pids=[os.getpid()])
    read: list[str] = []
    real_read_at = _proc._read_at

    def recording(name: str, dfd: int) -> bytes:
        read.append(name)
        return real_read_at(name, dfd)

    monkeypatch.setattr(_proc, "_read_at", recording)
    (bare,) = ptag.process_iter(pids=[os.getpid()], cgroup=False)
    assert bare.cgroup is None
    assert (bare.pid, bare.ppid, bare.uid, bare.comm, bare.tags) == (
        full.pid,
        full.ppid,
        full.uid,
        full.comm,
        full.tags,
    )
    assert not [n for n in read if n.endswith("/cgroup")]
    everyone = list(ptag.process_iter(cgroup=False))
    assert everyone and all(i.cgroup is None for i in everyone)
    assert not [n for n in read if n.endswith("/cgroup")]
    read.clear()
    list(ptag.process_iter(pids=[os.getpid()]))
    if os.path.exists("/proc/self/cgroup"):
        assert f"{os.getpid()}/cgroup" in read  # the default reads it


def test_scanned_records_are_like_constructed_ones() -> None:
    """process_iter and parse_proc_tags build records without __init__: they must be
    indistinguishable from the public constructors' records."""
    (info,) = ptag.process_iter(pids=[os.getpid()])
    same = ProcessInfo(info.pid, info.ppid, info.uid, info.comm, info.tags, info.cgroup)
    assert type(info) is ProcessInfo
    assert info == same and repr(info) == repr(same)  # tags: unhashable
    assert info.__reduce__() == same.__reduce__()  # (a mappingproxy does not pickle)
    assert weakref.ref(info)() is info
    with pytest.raises(AttributeError):
        info.pid = 1
    with pytest.raises(AttributeError):
        del info.comm
    tag = ptag.parse_proc_tags(b"7 k=v\n")["k"]
    assert type(tag) is Tag and tag == Tag("k", "v", 7) and hash(tag) == hash(Tag("k", "v", 7))
    assert repr(tag) == "Tag(key='k', value='v', owner=7)"
    assert pickle.loads(pickle.dumps(tag)) == tag
    with pytest.raises(AttributeError):
        tag.value = "w"


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        (["self/ptags", "1/ptags"], True),  # a ptag kernel
        (["self/stat", "1/stat"], False),  # a kernel without ptags
        (["1/ptags"], True),  # another PID namespace's /proc (nsenter -m)
        (["1/stat"], False),
        (["42/stat"], None),  # neither this process nor an init is visible
    ],
)
def test_proc_has_ptags(tmp_path: Path, tree: list[str], expected: bool | None) -> None:
    for rel in tree:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    dfd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert _proc.proc_has_ptags(dfd) is expected
    finally:
        os.close(dfd)


def test_proc_has_ptags_on_this_host() -> None:
    assert _proc.proc_has_ptags() is os.path.exists("/proc/self/ptags")


def test_scanned_records_hash_and_pickle() -> None:
    """A ProcessInfo from process_iter holds its tags as a read-only view, which
    Python cannot hash or pickle; the record can, and stays read-only."""
    tags = MappingProxyType({"k": Tag("k", "v", 0)})
    info = ProcessInfo(7, 1, 0, "x", tags, "/")
    assert hash(info) == hash(ProcessInfo(7, 1, 0, "x", {"k": Tag("k", "v", 0)}, "/"))
    back = pickle.loads(pickle.dumps(info))
    assert back == info
    assert type(back.tags) is MappingProxyType
    plain = ProcessInfo(7, 1, 0, "x", {}, None)  # a caller's own dict stays a dict
    assert type(pickle.loads(pickle.dumps(plain)).tags) is dict
    for scanned in ptag.process_iter():
        assert pickle.loads(pickle.dumps(scanned)) == scanned
        assert isinstance(hash(scanned), int)
