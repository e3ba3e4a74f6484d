"""The ``prometheus_client`` collector behind ``ptag exporter``, and its outputs.

Every ``collect()`` (every scrape) scans /proc once with
``ptag.process_iter(stats=True, cgroup=False)``, groups the processes by their
trusted tags (:mod:`ptag.exporter.groups`), updates the counters
(:mod:`ptag.exporter.book`) and yields the metric families below.  The only
module of ptag that imports ``prometheus_client``.

Metrics (``G`` is the group's labels, one per ``--label``):

=======================================  =======  ===================================
``ptag_group_processes{G}``              gauge    live processes
``ptag_group_threads{G}``                gauge    their threads
``ptag_group_cpu_seconds_total{G,mode}`` counter  CPU time, ``mode`` user or system
``ptag_group_resident_memory_bytes{G}``  gauge    sum of resident set sizes
``ptag_group_open_fds{G}``               gauge    open files (readable processes)
``ptag_group_minor_page_faults_total``   counter  page faults served from memory
``ptag_group_major_page_faults_total``   counter  page faults that read from disk
``ptag_group_info{G}``                   gauge    1 per group, for joins
``ptag_untrusted_tags_total{key}``       counter  processes seen with an ignored tag
``ptag_untrusted_tag_processes{key}``    gauge    such processes in this scrape
``ptag_scrape_duration_seconds``         gauge    how long this scrape's scan took
``ptag_scrape_errors_total``             counter  scans that failed
``ptag_kernel_supported``                gauge    1 when the kernel has ptags
=======================================  =======  ===================================
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.exposition import generate_latest, start_http_server
from prometheus_client.registry import CollectorRegistry

from .. import _proc
from .._types import ProcessStats
from . import textfile
from .book import Book, Totals
from .groups import Config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

__all__ = ["PtagCollector", "registry_for", "render", "serve", "write_textfile"]


def scan_proc() -> Iterator[ProcessStats]:
    """Every visible process with its counters (no cgroup paths: not needed)."""
    for p in _proc.process_iter(cgroup=False, stats=True):
        if type(p) is ProcessStats:
            yield p


class PtagCollector:
    """A ``prometheus_client`` custom collector: register it in a
    :class:`~prometheus_client.CollectorRegistry`; each ``collect()`` is a scan.

    ``scan`` yields the processes (default: /proc); ``clock`` gives monotonic
    seconds (for the retention of vanished groups); ``kernel_supported`` is what
    ``ptag_kernel_supported`` reports (default: whether /proc shows ``ptags``).
    Scrapes may come from several threads at once: one scan runs at a time.
    """

    def __init__(
        self,
        config: Config,
        *,
        scan: Callable[[], Iterable[ProcessStats]] = scan_proc,
        clock: Callable[[], float] = time.monotonic,
        kernel_supported: bool | None = None,
    ) -> None:
        self.config = config
        self._scan = scan
        self._clock = clock
        if kernel_supported is None:
            kernel_supported = _proc.proc_has_ptags() is True
        self.kernel_supported = kernel_supported
        self._book = Book(config.retention)
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, ...], Totals] = {}
        self._errors = 0
        self._duration = 0.0
        self._tick = float(os.sysconf("SC_CLK_TCK"))

    def update(self) -> None:
        """Scan once and update the totals (what ``collect()`` does first).  A scan
        that fails counts in ``ptag_scrape_errors_total`` and leaves the previous
        totals in place."""
        start = time.perf_counter()
        group_of = self.config.group_of
        try:
            records = [(*group_of(p.tags), p) for p in self._scan()]
        except OSError:
            self._errors += 1
        else:
            self._totals = self._book.update(records, self._clock())
        self._duration = time.perf_counter() - start

    def collect(self) -> Iterator[Metric]:
        """Scan, then yield every metric family (see the module's docstring)."""
        with self._lock:
            self.update()
            families = self._families()
        yield from families

    def _families(self) -> list[Metric]:
        labels = list(self.config.labels)
        tick = self._tick

        def gauge(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=labels)

        procs = gauge("ptag_group_processes", "Live processes in the group.")
        threads = gauge("ptag_group_threads", "Threads of the group's live processes.")
        cpu = CounterMetricFamily(
            "ptag_group_cpu_seconds",
            "CPU time used by the group's processes, exited ones included, by mode.",
            labels=[*labels, "mode"],
        )
        rss = gauge(
            "ptag_group_resident_memory_bytes", "Resident memory of the group's live processes."
        )
        fds = gauge(
            "ptag_group_open_fds",
            "Open file descriptors of the group's live processes whose fd table is readable.",
        )
        minflt = CounterMetricFamily(
            "ptag_group_minor_page_faults",
            "Page faults of the group's processes that did not read from disk.",
            labels=labels,
        )
        majflt = CounterMetricFamily(
            "ptag_group_major_page_faults",
            "Page faults of the group's processes that read from disk.",
            labels=labels,
        )
        info = InfoMetricFamily(
            "ptag_group", "One series per group, with its labels, for joins.", labels=labels
        )
        for group, t in sorted(self._totals.items()):
            values = list(group)
            procs.add_metric(values, t.processes)
            threads.add_metric(values, t.threads)
            cpu.add_metric([*values, "user"], t.utime / tick)
            cpu.add_metric([*values, "system"], t.stime / tick)
            rss.add_metric(values, t.rss)
            fds.add_metric(values, t.fds)
            minflt.add_metric(values, t.minflt)
            majflt.add_metric(values, t.majflt)
            info.add_metric(values, {})
        untrusted = CounterMetricFamily(
            "ptag_untrusted_tags",
            "Processes seen with a tag on a grouped key whose owner is not trusted "
            "(the tag was ignored), each process once, by key.",
            labels=["key"],
        )
        untrusted_now = GaugeMetricFamily(
            "ptag_untrusted_tag_processes",
            "Processes in this scrape with an ignored untrusted tag on a grouped key, by key.",
            labels=["key"],
        )
        book = self._book
        for key in self.config.keys:
            if key in book.untrusted_total:
                untrusted.add_metric([key], book.untrusted_total[key])
                untrusted_now.add_metric([key], book.untrusted_now.get(key, 0))
        return [
            procs,
            threads,
            cpu,
            rss,
            fds,
            minflt,
            majflt,
            info,
            untrusted,
            untrusted_now,
            GaugeMetricFamily(
                "ptag_scrape_duration_seconds",
                "Time this scrape took to scan /proc and group the processes.",
                value=self._duration,
            ),
            CounterMetricFamily(
                "ptag_scrape_errors",
                "Scrapes whose scan of /proc failed.",
                value=self._errors,
            ),
            GaugeMetricFamily(
                "ptag_kernel_supported",
                "1 if the kernel has process tags (else every process is untagged).",
                value=1 if self.kernel_supported else 0,
            ),
        ]


def registry_for(collector: PtagCollector) -> CollectorRegistry:
    """A registry with only ``collector`` in it (no process or platform metrics of
    the exporter's own Python)."""
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """One scrape, in the Prometheus text format."""
    return generate_latest(registry)


def write_textfile(path: str, registry: CollectorRegistry) -> None:
    """One scrape, written atomically to ``path`` for node_exporter's textfile
    collector (see :mod:`ptag.exporter.textfile`)."""
    textfile.write_atomically(path, render(registry))


def serve(addr: str, port: int, registry: CollectorRegistry) -> tuple[str, int]:
    """Serve ``/metrics`` (any path, in fact) over HTTP on ``addr:port`` in a
    daemon thread; return the address and port bound (``port`` 0 picks one).
    OSError when the address cannot be bound."""
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    host, bound = server.server_address[:2]
    return str(host), int(bound)
