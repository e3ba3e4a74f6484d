"""ptag exporter's bookkeeping, fed synthetic scans: counters never go backwards
across process exits, PID reuse and group changes; vanished groups expire."""

from __future__ import annotations

from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from ptag._types import ProcessStats
from ptag.exporter.book import Book, Totals

A = ("a",)
B = ("b",)
U = ("",)


def proc(
    pid: int,
    start: int,
    utime: int,
    stime: int = 0,
    minflt: int = 0,
    majflt: int = 0,
    *,
    threads: int = 1,
    rss: int = 4096,
    fds: int | None = 3,
) -> ProcessStats:
    return ProcessStats(
        pid, 1, 0, "p", MappingProxyType({}), None, start, utime, stime, minflt, majflt, rss,
        threads, fds,
    )  # fmt: skip


def scan(
    *items: tuple[tuple[str, ...], ProcessStats],
) -> list[tuple[tuple[str, ...], tuple[str, ...], ProcessStats]]:
    return [(g, (), p) for g, p in items]


def counters(t: Totals) -> tuple[int, int, int, int]:
    return t.counters()


def test_gauges_and_counters_sum_a_group() -> None:
    b = Book()
    out = b.update(
        scan(
            (A, proc(10, 1, 5, 2, 100, 1, threads=3, rss=8192, fds=4)),
            (A, proc(11, 1, 1, 1, 10, 0, threads=1, rss=4096, fds=None)),
            (U, proc(1, 0, 7)),
        ),
        now=0.0,
    )
    a = out[A]
    assert (a.processes, a.threads, a.rss, a.fds) == (2, 4, 12288, 4)
    assert counters(a) == (6, 3, 110, 1)
    assert out[U].processes == 1 and set(out) == {A, U}


def test_an_exited_process_leaves_its_counts() -> None:
    b = Book()
    b.update(scan((A, proc(10, 1, 50, 5)), (A, proc(11, 1, 20, 2))), now=0.0)
    out = b.update(scan((A, proc(11, 1, 21, 2))), now=1.0)  # 10 exited
    assert out[A].processes == 1
    assert counters(out[A])[:2] == (71, 7)
    out = b.update(scan((A, proc(11, 1, 25, 3))), now=2.0)
    assert counters(out[A])[:2] == (75, 8)


def test_pid_reuse_is_a_new_process_not_a_double_count() -> None:
    b = Book()
    b.update(scan((A, proc(10, 100, 40))), now=0.0)
    # PID 10 exited and was reused by a new process (another start time) in A
    out = b.update(scan((A, proc(10, 200, 3))), now=1.0)
    assert counters(out[A])[0] == 43
    out = b.update(scan((A, proc(10, 200, 5))), now=2.0)
    assert counters(out[A])[0] == 45
    # and reused by a process of another group: A keeps its 45, B starts at 1
    out = b.update(scan((B, proc(10, 300, 1))), now=3.0)
    assert counters(out[A])[0] == 45 and out[A].processes == 0
    assert counters(out[B])[0] == 1


def test_a_process_that_changes_group_leaves_what_it_used() -> None:
    """Tags are only ever added: an untagged process that gains a trusted tag
    moves; neither group's counters go backwards, and nothing is counted twice."""
    b = Book()
    b.update(scan((U, proc(10, 1, 30)), (U, proc(1, 0, 100))), now=0.0)
    out = b.update(scan((A, proc(10, 1, 32)), (U, proc(1, 0, 101))), now=1.0)
    assert counters(out[U])[0] == 130 + 1  # 10's 30 stays in U
    assert counters(out[A])[0] == 2  # only what 10 used after it moved
    out = b.update(scan((A, proc(10, 1, 40)), (U, proc(1, 0, 101))), now=2.0)
    assert counters(out[U])[0] == 131 and counters(out[A])[0] == 10


def test_a_reading_that_goes_back_is_ignored() -> None:
    b = Book()
    b.update(scan((A, proc(10, 1, 50, 9, 7, 3))), now=0.0)
    out = b.update(scan((A, proc(10, 1, 49, 10, 6, 3))), now=1.0)
    assert counters(out[A]) == (50, 10, 7, 3)


def test_a_process_listed_twice_in_one_scan_counts_once() -> None:
    b = Book()
    out = b.update(scan((A, proc(10, 1, 5)), (A, proc(10, 1, 5))), now=0.0)
    assert out[A].processes == 1 and counters(out[A])[0] == 5


def test_a_vanished_group_is_kept_for_the_retention_then_forgotten() -> None:
    b = Book(retention=60.0)
    b.update(scan((A, proc(10, 1, 5, 1, 9, 2)), (U, proc(1, 0, 1))), now=0.0)
    out = b.update(scan((U, proc(1, 0, 1))), now=10.0)  # A's only process exited
    assert (out[A].processes, out[A].threads, out[A].rss, out[A].fds) == (0, 0, 0, 0)
    assert counters(out[A]) == (5, 1, 9, 2)
    assert A in b.update(scan((U, proc(1, 0, 1))), now=60.0)  # last seen at 0: 60 s
    assert A not in b.update(scan((U, proc(1, 0, 1))), now=60.5)
    assert A not in b.update(scan((U, proc(1, 0, 1))), now=61.0)
    # a new process in A after the expiry starts A again from its own counts
    out = b.update(scan((A, proc(20, 9, 2)), (U, proc(1, 0, 1))), now=62.0)
    assert counters(out[A])[0] == 2


def test_a_group_that_comes_back_within_the_retention_continues() -> None:
    b = Book(retention=60.0)
    b.update(scan((A, proc(10, 1, 5))), now=0.0)
    b.update(scan(), now=30.0)
    out = b.update(scan((A, proc(20, 9, 2))), now=50.0)
    assert counters(out[A])[0] == 7
    # the retention counts from when the group was last seen live (50 s)
    assert A in b.update(scan(), now=100.0)
    assert A not in b.update(scan(), now=111.0)


def test_retention_zero_drops_a_group_at_the_next_scan_after_it() -> None:
    b = Book(retention=0.0)
    b.update(scan((A, proc(10, 1, 5))), now=0.0)
    assert A not in b.update(scan(), now=1.0)


def test_untrusted_tags_are_counted_once_per_process() -> None:
    b = Book()
    b.update([(U, ("container.id",), proc(10, 1, 0))], now=0.0)
    b.update([(U, ("container.id",), proc(10, 1, 0)), (U, (), proc(11, 1, 0))], now=1.0)
    assert b.untrusted_total == {"container.id": 1}
    assert b.untrusted_now == {"container.id": 1}
    # the same PID, another process: counted again; the first one is gone
    b.update([(U, ("container.id", "container.name"), proc(10, 2, 0))], now=2.0)
    assert b.untrusted_total == {"container.id": 2, "container.name": 1}
    b.update([], now=3.0)
    assert b.untrusted_now == {}
    assert b.untrusted_total == {"container.id": 2, "container.name": 1}


def test_nothing_is_kept_for_processes_that_are_gone() -> None:
    """The book holds only live processes and groups within their retention: a
    long run with churn does not grow it."""
    b = Book(retention=5.0)
    for i in range(1000):
        b.update(scan((A if i % 2 else B, proc(1000 + i, i, 1)), (U, proc(1, 0, 1))), now=i)
    assert len(b._live) == 2
    assert set(b._gone) <= {A, B, U} and set(b._seen) <= {A, B, U}


# one process: (pid 1..4, generation 0..2, cpu increments, group index)
events = st.lists(
    st.lists(
        st.tuples(
            st.integers(1, 4), st.integers(0, 2), st.integers(0, 5), st.sampled_from([A, B, U])
        ),
        max_size=6,
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_counters_never_go_backwards(
    scans: list[list[tuple[int, int, int, tuple[str, ...]]]],
) -> None:
    """Any sequence of scans, with exits, PID reuse (same pid, other start time) and
    group changes: every group's counters are monotonic while it is retained, and
    the sum over groups is the CPU of every process ever seen."""
    b = Book(retention=1e9)
    cpu: dict[tuple[int, int], int] = {}
    groups: dict[tuple[int, int], tuple[str, ...]] = {}
    before: dict[tuple[str, ...], tuple[int, int, int, int]] = {}
    alive: set[tuple[int, int]] = set()
    dead: set[tuple[int, int]] = set()
    for n, items in enumerate(scans):
        listed: list[tuple[tuple[str, ...], tuple[str, ...], ProcessStats]] = []
        pids = set()
        for pid, gen, inc, group in items:
            ident = (pid, gen)
            if pid in pids or ident in dead:  # one process per PID; the dead stay dead
                continue
            pids.add(pid)
            cpu[ident] = cpu.get(ident, 0) + inc
            # a process's group may change only from untagged to tagged (tags are added)
            g = groups.setdefault(ident, group)
            if g == U and group != U:
                g = groups[ident] = group
            listed.append((g, (), proc(pid, gen, cpu[ident], inc, inc, 0)))
        now_alive = {(p.pid, p.starttime) for _, _, p in listed}
        dead |= alive - now_alive
        alive = now_alive
        out = b.update(listed, now=float(n))
        for group, t in out.items():
            old = before.get(group, (0, 0, 0, 0))
            assert all(x >= y for x, y in zip(t.counters(), old)), (group, old, t.counters())
            before[group] = t.counters()
        assert sum(t.utime for t in out.values()) == sum(cpu.values())
