"""Every public function of ``ptag`` against the patched kernel.  Each test that sets
a tag does so in a forked child (``in_child``), so the pytest process stays untagged."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

import ptag
from ptag import Tag, keys

Child = Callable[..., Any]


def test_supported() -> None:
    assert ptag.supported() is True


def test_pytest_process_is_untagged() -> None:
    assert dict(ptag.tags()) == {}
    assert ptag.read_proc_tags() == {}
    assert Path("/proc/self/ptags").read_bytes() == b""


def test_set_get_tags_self(in_child: Child) -> None:
    def body() -> None:
        me = os.getpid()
        assert ptag.get(keys.CONTAINER_ID) is None
        assert ptag.get(keys.CONTAINER_ID, "dflt") == "dflt"
        ptag.set(keys.CONTAINER_ID, "0123abcd")
        ptag.set(keys.CONTAINER_NAME, "web 1 = café")
        ptag.set("empty", "")
        assert ptag.get(keys.CONTAINER_ID) == "0123abcd"
        assert ptag.get(keys.CONTAINER_NAME) == "web 1 = café"
        assert ptag.get("empty", "dflt") == ""
        t = ptag.tags()
        assert isinstance(t, MappingProxyType)
        assert list(t) == [keys.CONTAINER_ID, keys.CONTAINER_NAME, "empty"]
        assert t[keys.CONTAINER_ID] == Tag(keys.CONTAINER_ID, "0123abcd", os.geteuid())
        with pytest.raises(TypeError):
            t["x"] = Tag("x", "y", 0)  # type: ignore[index]
        # the same data by syscalls, by pid, by pidfd and from /proc
        assert dict(ptag.tags(me)) == dict(t)
        fd = os.pidfd_open(me)
        try:
            assert dict(ptag.tags(pidfd=fd)) == dict(t)
            assert ptag.get(keys.CONTAINER_ID, pidfd=fd) == "0123abcd"
        finally:
            os.close(fd)
        assert ptag.get(keys.CONTAINER_ID, pid=me) == "0123abcd"
        assert ptag.read_proc_tags() == dict(t)
        assert ptag.read_proc_tags(me) == dict(t)
        assert ptag.read_proc_tags("thread-self") == dict(t)
        assert (
            Path("/proc/self/ptags").read_bytes()
            == (
                f"{os.geteuid()} container.id=0123abcd\n"
                f"{os.geteuid()} container.name=web 1 = café\n"
                f"{os.geteuid()} empty=\n"
            ).encode()
        )

    in_child(body)


def test_set_self_by_pid_and_pidfd(in_child: Child) -> None:
    def body() -> None:
        ptag.set("by.pid", "1", pid=os.getpid())
        fd = os.pidfd_open(os.getpid())
        try:
            ptag.set("by.pidfd", "2", pidfd=fd)
        finally:
            os.close(fd)
        assert [(t.key, t.value) for t in ptag.tags().values()] == [
            ("by.pid", "1"),
            ("by.pidfd", "2"),
        ]

    in_child(body)


def test_values_round_trip_raw_bytes(in_child: Child) -> None:
    def body() -> None:
        raw = bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100)) + b"\xc3\xa9"
        value = raw.decode("utf-8", "surrogateescape")
        ptag.set("raw", value)
        got = ptag.get("raw")
        assert got is not None and got.encode("utf-8", "surrogateescape") == raw
        assert ptag.read_proc_tags()["raw"].value == got
        assert ptag.tags()["raw"].value == got

    in_child(body)


def test_limits_at_boundaries(in_child: Child) -> None:
    def body() -> None:
        ptag.set("k" * ptag.KEY_MAX, "v" * ptag.VALUE_MAX)
        assert ptag.get("k" * 64) == "v" * 256
        with pytest.raises(ValueError):
            ptag.set("k" * 65, "v")
        with pytest.raises(ValueError):
            ptag.set("x", "v" * 257)
        for i in range(1, ptag.MAX_TAGS):
            ptag.set(f"n{i}", str(i))
        assert len(ptag.tags()) == 32
        with pytest.raises(ptag.TagLimitError) as ei:
            ptag.set("one.too.many", "x")
        assert ei.value.errno == errno.ENOSPC
        assert ei.value.key == "one.too.many" and ei.value.pid == os.getpid()
        assert len(ptag.tags()) == 32 and ptag.get("one.too.many") is None

    in_child(body)


def test_set_existing_key_fails(in_child: Child) -> None:
    def body() -> None:
        ptag.set("k", "v")
        for value in ("v", "w"):
            with pytest.raises(ptag.TagExistsError) as ei:
                ptag.set("k", value)
            e = ei.value
            assert isinstance(e, FileExistsError)
            assert (e.errno, e.key, e.pid) == (errno.EEXIST, "k", os.getpid())
        assert ptag.get("k") == "v"

    in_child(body)


def test_exist_ok(in_child: Child) -> None:
    def body() -> None:
        ptag.set("k", "same", exist_ok=True)
        ptag.set("k", "same", exist_ok=True)  # identical: a no-op
        with pytest.raises(ptag.TagExistsError) as ei:
            ptag.set("k", "other", exist_ok=True)
        assert "'same'" in str(ei.value) and "'other'" in str(ei.value)
        assert ei.value.errno == errno.EEXIST
        assert dict(ptag.tags()) == {"k": Tag("k", "same", 0)}

    in_child(body)


def test_exist_ok_compares_bytes(in_child: Child) -> None:
    def body() -> None:
        ptag.set("k", "\udcc3\udca9")  # the bytes c3 a9, which read back as 'é'
        ptag.set("k", "é", exist_ok=True)  # the same bytes: a no-op

    in_child(body)


def test_exist_ok_on_another_process(in_child: Child, waiter: Any) -> None:
    def body() -> None:
        with waiter() as w:
            ptag.set("k", "v", pid=w.pid)
            ptag.set("k", "v", pid=w.pid, exist_ok=True)
            with pytest.raises(ptag.TagExistsError) as ei:
                ptag.set("k", "x", pid=w.pid, exist_ok=True)
            assert ei.value.pid == w.pid

    in_child(body)


def test_pidfd_targeting_of_a_child(in_child: Child, waiter: Any) -> None:
    def body() -> None:
        with waiter() as w:
            assert w.own_tags() == {}
            ptag.set(keys.K8S_POD_NAME, "web-1", pid=w.pid)
            fd = os.pidfd_open(w.pid)
            try:
                ptag.set(keys.K8S_POD_UID, "uid-1", pidfd=fd)
                assert ptag.get(keys.K8S_POD_UID, pidfd=fd) == "uid-1"
                assert list(ptag.tags(pidfd=fd)) == [keys.K8S_POD_NAME, keys.K8S_POD_UID]
            finally:
                os.close(fd)
            assert ptag.get(keys.K8S_POD_NAME, pid=w.pid) == "web-1"
            assert ptag.get("missing", "d", pid=w.pid) == "d"
            assert dict(ptag.tags(w.pid)) == {
                keys.K8S_POD_NAME: Tag(keys.K8S_POD_NAME, "web-1", 0),
                keys.K8S_POD_UID: Tag(keys.K8S_POD_UID, "uid-1", 0),
            }
            assert ptag.read_proc_tags(w.pid) == dict(ptag.tags(w.pid))
            # the target sees its new tags itself; the caller is unchanged
            assert w.own_tags() == {
                keys.K8S_POD_NAME: ["web-1", 0],
                keys.K8S_POD_UID: ["uid-1", 0],
            }
            assert dict(ptag.tags()) == {}

    in_child(body)


def test_target_is_a_thread_id(in_child: Child) -> None:
    def body() -> None:
        tid: list[int] = []
        ready = threading.Event()
        done = threading.Event()

        def run() -> None:
            tid.append(threading.get_native_id())
            ready.set()
            done.wait(10)

        t = threading.Thread(target=run)
        t.start()
        try:
            assert ready.wait(10)
            with pytest.raises(ptag.TagProcessLookupError):
                ptag.set("k", "v", pid=tid[0])
        finally:
            done.set()
            t.join()

    in_child(body)


def test_children_inherit_across_fork_and_exec(in_child: Child) -> None:
    def body() -> dict[str, Tag]:
        ptag.set("parent", "p")
        out = subprocess.run(
            [sys.executable, "-c", "import ptag; print(ptag.get('parent'), len(ptag.tags()))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert out == "p 1\n"
        ptag.set("later", "l")  # after the child: the child's set is a snapshot
        return ptag.read_proc_tags()

    got = in_child(body)
    assert list(got) == ["parent", "later"]


def test_zombie_tags_readable_until_reaped(in_child: Child) -> None:
    def body() -> None:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            ptag.set("z", "1")
            os._exit(0)
        os.close(w)
        os.read(r, 1)  # EOF once the child is gone (a zombie)
        os.close(r)
        # the write end closes at exit; the zombie is still unreaped
        assert ptag.read_proc_tags(pid) == {"z": Tag("z", "1", 0)}
        os.waitpid(pid, 0)
        with pytest.raises(ProcessLookupError):
            ptag.read_proc_tags(pid)

    in_child(body)


def test_threads_share_one_tag_set(in_child: Child) -> None:
    def body() -> None:
        started = threading.Barrier(3)
        go = threading.Event()
        seen: dict[str, Any] = {}

        def watcher() -> None:
            started.wait()
            go.wait(10)
            seen["get"] = ptag.get("from.main")
            seen["thread-self"] = ptag.read_proc_tags("thread-self")

        def setter() -> None:
            started.wait()
            ptag.set("from.thread", "t")

        threads = [threading.Thread(target=watcher), threading.Thread(target=setter)]
        for t in threads:
            t.start()
        started.wait()
        threads[1].join()
        assert ptag.get("from.thread") == "t"  # set in another thread, seen here
        ptag.set("from.main", "m")
        go.set()
        threads[0].join()
        assert seen["get"] == "m"
        assert list(seen["thread-self"]) == ["from.thread", "from.main"]
        # every thread's /proc view is the same set (the finished threads are gone)
        hold = threading.Event()
        extra = threading.Thread(target=hold.wait, args=(10,))
        extra.start()
        try:
            tasks = list(Path("/proc/self/task").iterdir())
            assert len(tasks) == 2
            want = ptag.read_proc_tags()
            for task in tasks:
                assert ptag.parse_proc_tags((task / "ptags").read_bytes()) == want
        finally:
            hold.set()
            extra.join()
        pid = os.fork()  # and a child of any thread inherits the whole set
        if pid == 0:
            os._exit(0 if list(ptag.tags()) == ["from.thread", "from.main"] else 1)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0

    in_child(body)


def test_concurrent_sets_from_threads(in_child: Child) -> None:
    def body() -> None:
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(4):
                    ptag.set(f"t{n}.{i}", str(i))
                    assert ptag.get(f"t{n}.{i}") == str(i)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len(ptag.tags()) == 32

    in_child(body)


def test_process_iter_reports_tags(in_child: Child, waiter: Any) -> None:
    def body() -> None:
        with waiter() as w:
            ptag.set(keys.CONTAINER_RUNTIME, "runc", pid=w.pid)
            ptag.set("mine", "1")
            infos = {i.pid: i for i in ptag.process_iter()}
            assert dict(infos[w.pid].tags) == {
                keys.CONTAINER_RUNTIME: Tag(keys.CONTAINER_RUNTIME, "runc", 0)
            }
            assert infos[w.pid].ppid == os.getpid()
            assert list(infos[os.getpid()].tags) == ["mine"]
            assert infos[os.getppid()].tags == {}
            (only,) = ptag.process_iter(pids=[w.pid])
            assert only == infos[w.pid]

    in_child(body)


def test_tags_of_missing_process(in_child: Child) -> None:
    def body() -> None:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        for call in (
            lambda: ptag.set("k", "v", pid=pid),
            lambda: ptag.get("k", pid=pid),
            lambda: ptag.tags(pid),
            lambda: ptag.read_proc_tags(pid),
        ):
            with pytest.raises(ptag.TagProcessLookupError) as ei:
                call()
            assert ei.value.pid == pid
            assert isinstance(ei.value, ProcessLookupError)

    in_child(body)
