"""The library's scan with per-process counters (``process_iter(stats=True)``),
which ptag exporter reads, checked against the kernel's other interfaces."""

from __future__ import annotations

import os
import pickle
import resource
import threading
from collections.abc import Callable
from typing import Any

import ptag
from ptag import _proc
from ptag._types import ProcessInfo, ProcessStats


def me() -> ProcessStats:
    (p,) = ptag.process_iter(pids=[os.getpid()], stats=True, cgroup=False)
    assert type(p) is ProcessStats
    return p


def test_without_stats_the_scan_yields_plain_records() -> None:
    """ps and everything else keep the cheaper records: no fd count, no parsing."""
    assert {type(p) for p in ptag.process_iter(cgroup=False)} == {ProcessInfo}
    everyone = list(ptag.process_iter(stats=True))
    assert everyone and {type(p) for p in everyone} == {ProcessStats}


def test_stats_are_a_process_info_too() -> None:
    (plain,) = ptag.process_iter(pids=[os.getpid()])
    p = me()
    assert isinstance(p, ProcessInfo)
    assert (p.pid, p.ppid, p.uid, p.comm, dict(p.tags)) == (
        plain.pid,
        plain.ppid,
        plain.uid,
        plain.comm,
        dict(plain.tags),
    )
    assert p.cgroup is None  # cgroup=False
    assert pickle.loads(pickle.dumps(p)) == p
    assert type(pickle.loads(pickle.dumps(p)).tags) is type(p.tags)
    assert ProcessStats.__match_args__[-8:] == (
        "starttime",
        "utime",
        "stime",
        "minflt",
        "majflt",
        "rss",
        "threads",
        "fds",
    )


def test_cpu_and_faults_match_times_and_getrusage() -> None:
    """Read before and after os.times()/getrusage(): the kernel's counts, which
    only grow, lie between the two readings."""
    for _ in range(200_000):  # use some CPU first
        pass
    before = me()
    times = os.times()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    after = me()
    tick = os.sysconf("SC_CLK_TCK")
    assert before.utime <= round(times.user * tick) <= after.utime
    assert before.stime <= round(times.system * tick) <= after.stime
    assert before.minflt <= usage.ru_minflt <= after.minflt
    assert before.majflt <= usage.ru_majflt <= after.majflt
    assert before.utime + before.stime > 0


def test_start_time_is_the_stat_field() -> None:
    with open(f"/proc/{os.getpid()}/stat", "rb") as f:
        data = f.read()
    fields = data[data.rindex(b")") + 2 :].split()
    assert me().starttime == int(fields[19]) > 0
    assert me().starttime == me().starttime


def test_threads_rss_and_fds() -> None:
    stop = threading.Event()
    workers = [threading.Thread(target=stop.wait) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        assert me().threads == len(os.listdir(f"/proc/{os.getpid()}/task"))
        assert me().threads >= 4
    finally:
        stop.set()
        for w in workers:
            w.join()
    base = me()
    blob = bytearray(64 << 20)  # 64 MiB, touched
    for i in range(0, len(blob), 4096):
        blob[i] = 1
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(10)]
    try:
        grown = me()
        assert grown.rss - base.rss >= 60 << 20
        assert base.fds is not None and grown.fds == base.fds + 10
    finally:
        for fd in fds:
            os.close(fd)
    del blob


def test_fd_count_without_the_size_of_the_fd_directory() -> None:
    """Before Linux 6.2 ``stat`` gives size 0: the scan lists the directory.  Both
    ways agree on another process (listing our own shows the listing's fds)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    dfd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
    try:
        listed = _proc._count_fds(str(pid), dfd, False)
        assert listed is not None and listed >= 3
        if _proc._fd_dir_has_size(dfd):
            assert _proc._count_fds(str(pid), dfd, True) == listed
        assert _proc._count_fds("999999999", dfd, False) is None
        assert _proc._count_fds("999999999", dfd, True) is None
    finally:
        os.close(dfd)
        os.close(w)
        os.waitpid(pid, 0)


def _as_nobody() -> tuple[Any, Any, Any]:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    dfd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
    listed = _proc._count_fds("1", dfd, False)
    (init,) = ptag.process_iter(pids=[1], stats=True)
    (mine,) = ptag.process_iter(pids=[os.getpid()], stats=True)
    assert isinstance(init, ProcessStats) and isinstance(mine, ProcessStats)
    return listed, init.fds, mine.fds


def test_another_users_fds(in_child: Callable[..., Any]) -> None:
    """Listing another user's fd table needs ptrace access: None, not 0.  (Since
    Linux 6.2 the size of the directory, which the scan uses, shows the count to
    anyone.)"""
    if os.geteuid() != 0:
        dfd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert _proc._count_fds("1", dfd, False) is None
        finally:
            os.close(dfd)
        return
    listed, init_fds, my_fds = in_child(_as_nobody)
    assert listed is None
    dfd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
    try:
        size_works = _proc._fd_dir_has_size(dfd)
    finally:
        os.close(dfd)
    assert (init_fds is not None) == size_works
    assert isinstance(my_fds, int) and my_fds > 0
