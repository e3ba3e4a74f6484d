"""Per-group totals from successive scans, with counters that never go backwards.

Each scan gives every live process's counters (CPU ticks, page faults) and its
group.  A group's counter is what its live processes have used since they joined
it plus what its processes that exited (or moved to another group) had used in it:

- a process is known by ``(pid, starttime)``, so a reused PID is a new process and
  the old one's counts are kept once, never twice;
- a process that exits between two scans leaves its last counts in its group (the
  CPU it used after the last scan is not seen: it died with it, as in
  process-exporter);
- a process whose group changes (it gained a trusted tag: tags are only ever
  added) leaves what it had used in the old group and counts on from there in the
  new one, so neither goes backwards;
- a group with no live process keeps its counters, with zero gauges, for
  ``retention`` seconds after its last process was seen, then is forgotten (its
  series disappear; if it comes back later its counters start again from what its
  new processes have used, which Prometheus's ``rate()`` reads as a reset).

Nothing here reads /proc or imports ``prometheus_client``: the records are any
objects with :class:`ptag._types.ProcessStats`'s counter fields.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from .._types import ProcessStats

    Group = tuple[str, ...]

__all__ = ["Book", "Totals"]


class Totals:
    """One group's figures after a scan.  Gauges: ``processes``, ``threads``,
    ``rss`` (bytes), ``fds`` (open files of the processes whose count was
    readable).  Counters: ``utime``, ``stime`` (clock ticks), ``minflt``,
    ``majflt``."""

    __slots__ = ("fds", "majflt", "minflt", "processes", "rss", "stime", "threads", "utime")

    def __init__(self) -> None:
        self.processes = self.threads = self.rss = self.fds = 0
        self.utime = self.stime = self.minflt = self.majflt = 0

    def counters(self) -> tuple[int, int, int, int]:
        """``(utime, stime, minflt, majflt)``."""
        return (self.utime, self.stime, self.minflt, self.majflt)


class _Proc:
    """A live process as the book knows it: its group, the counts it had when it
    joined that group (``base``, zeros for a process first seen there) and the
    highest counts seen since (``last``)."""

    __slots__ = ("base", "group", "last", "untrusted")

    def __init__(self, group: Group, last: tuple[int, int, int, int]) -> None:
        self.group = group
        self.base = (0, 0, 0, 0)
        self.last = last
        self.untrusted: tuple[str, ...] = ()


def _add(acc: list[int], rec: _Proc) -> None:
    """Add what ``rec`` used in its group to ``acc`` (utime, stime, minflt, majflt)."""
    last, base = rec.last, rec.base
    acc[0] += last[0] - base[0]
    acc[1] += last[1] - base[1]
    acc[2] += last[2] - base[2]
    acc[3] += last[3] - base[3]


class Book:
    """The bookkeeping across scans (not thread-safe: the collector holds a lock).

    ``update()`` takes one scan and returns every group's :class:`Totals`;
    ``untrusted_total`` counts, per allowlisted key, the processes seen with an
    untrusted tag on it (each process once), and ``untrusted_now`` the ones in the
    last scan.
    """

    def __init__(self, retention: float = 300.0) -> None:
        self.retention = retention
        self._live: dict[tuple[int, int], _Proc] = {}
        self._gone: dict[Group, list[int]] = {}  # counts left by exited processes
        self._seen: dict[Group, float] = {}  # when a group last had a live process
        self.untrusted_total: dict[str, int] = {}
        self.untrusted_now: dict[str, int] = {}

    def update(
        self, scan: Iterable[tuple[Group, tuple[str, ...], ProcessStats]], now: float
    ) -> dict[Group, Totals]:
        """Take one scan, ``(group, untrusted keys, record)`` per live process, at
        time ``now`` (seconds, monotonic); return the totals of every group that has
        a live process or is within its retention."""
        old = self._live
        live: dict[tuple[int, int], _Proc] = {}
        totals: dict[Group, Totals] = {}
        untrusted_now: dict[str, int] = {}
        for group, untrusted, p in scan:
            ident = (p.pid, p.starttime)
            if ident in live:  # the same process twice in one scan: count it once
                continue
            counts = (p.utime, p.stime, p.minflt, p.majflt)
            rec = old.get(ident)
            if rec is None:
                rec = _Proc(group, counts)
            else:
                prev = rec.last
                # a process's counters only grow; never let a reading go back
                if counts != prev and (
                    counts[0] < prev[0]
                    or counts[1] < prev[1]
                    or counts[2] < prev[2]
                    or counts[3] < prev[3]
                ):
                    counts = (
                        max(counts[0], prev[0]),
                        max(counts[1], prev[1]),
                        max(counts[2], prev[2]),
                        max(counts[3], prev[3]),
                    )
                if rec.group != group:
                    _add(self._gone.setdefault(rec.group, [0, 0, 0, 0]), rec)
                    rec.group = group
                    rec.base = prev
                rec.last = counts
            if untrusted:
                for key in untrusted:
                    untrusted_now[key] = untrusted_now.get(key, 0) + 1
                    if key not in rec.untrusted:
                        self.untrusted_total[key] = self.untrusted_total.get(key, 0) + 1
                rec.untrusted = untrusted
            live[ident] = rec
            t = totals.get(group)
            if t is None:
                t = totals[group] = Totals()
            t.processes += 1
            t.threads += p.threads
            t.rss += p.rss
            if p.fds is not None:
                t.fds += p.fds
            last, base = rec.last, rec.base
            t.utime += last[0] - base[0]
            t.stime += last[1] - base[1]
            t.minflt += last[2] - base[2]
            t.majflt += last[3] - base[3]
        for ident, rec in old.items():
            if ident not in live:  # exited since the last scan
                _add(self._gone.setdefault(rec.group, [0, 0, 0, 0]), rec)
        self._live = live
        self.untrusted_now = untrusted_now
        for group in totals:
            self._seen[group] = now
        for group, acc in list(self._gone.items()):
            t = totals.get(group)
            if t is None:
                if now - self._seen.get(group, now) > self.retention:
                    del self._gone[group]
                    self._seen.pop(group, None)
                    continue
                t = totals[group] = Totals()
            t.utime += acc[0]
            t.stime += acc[1]
            t.minflt += acc[2]
            t.majflt += acc[3]
        for group in list(self._seen):
            if group not in totals:
                del self._seen[group]
        return totals
