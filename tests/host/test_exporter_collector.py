"""The prometheus_client collector of ptag exporter, on synthetic scans (tags
cannot be set on this kernel) and on the real /proc; promtool checks the output."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from types import MappingProxyType

from prometheus_client.parser import text_string_to_metric_families

from ptag import Tag
from ptag._types import ProcessStats
from ptag.exporter.collector import PtagCollector, registry_for, render
from ptag.exporter.groups import Config

TICK = os.sysconf("SC_CLK_TCK")


def promtool() -> str:
    """promtool (Debian's prometheus package, which tools/setup installs)."""
    path = shutil.which("promtool")
    assert path, "promtool is missing: run tools/setup (Debian package prometheus)"
    return path


def proc(pid: int, start: int, utime: int, tags: dict[str, tuple[str, int]]) -> ProcessStats:
    t = MappingProxyType({k: Tag(k, v, o) for k, (v, o) in tags.items()})
    return ProcessStats(pid, 1, 0, "p", t, None, start, utime, 2, 30, 1, 4096, 2, 5)


WEB = {"container.id": ("c1", 0), "container.name": ("web", 0)}
DB = {"container.id": ("c2", 0), "container.name": ('d"b\\x', 0)}
FAKE = {"container.id": ("c1", 1000)}


class Scans:
    """A scan function returning the next list each call."""

    def __init__(self, *scans: list[ProcessStats] | BaseException) -> None:
        self.scans = list(scans)

    def __call__(self) -> list[ProcessStats]:
        item = self.scans.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


def scrape(collector: PtagCollector) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{sample name: {sorted labels: value}} from one rendered scrape."""
    text = render(registry_for(collector)).decode()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def labels(cid: str = "", name: str = "", **extra: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"container_id": cid, "container_name": name, **extra}.items()))


def config() -> Config:
    return Config([("container.id", "container_id"), ("container.name", "container_name")])


def test_groups_counters_and_untrusted_tags() -> None:
    scans = Scans(
        [proc(10, 1, 100, WEB), proc(11, 1, 50, WEB), proc(20, 1, 7, DB), proc(30, 1, 1, FAKE)],
        [proc(11, 1, 60, WEB), proc(20, 1, 8, DB), proc(30, 1, 1, FAKE)],  # 10 exited
    )
    c = PtagCollector(config(), scan=scans, kernel_supported=True)
    m = scrape(c)
    assert m["ptag_group_processes"] == {
        labels("c1", "web"): 2,
        labels("c2", 'd"b\\x'): 1,
        labels(): 1,  # the self-tagged process: untagged, no group of its own
    }
    assert m["ptag_group_cpu_seconds_total"][labels("c1", "web", mode="user")] == 150 / TICK
    assert m["ptag_group_cpu_seconds_total"][labels("c1", "web", mode="system")] == 4 / TICK
    assert m["ptag_group_threads"][labels("c1", "web")] == 4
    assert m["ptag_group_resident_memory_bytes"][labels("c1", "web")] == 8192
    assert m["ptag_group_open_fds"][labels("c1", "web")] == 10
    assert m["ptag_group_minor_page_faults_total"][labels("c1", "web")] == 60
    assert m["ptag_group_major_page_faults_total"][labels("c1", "web")] == 2
    assert set(m["ptag_group_info"]) == {labels("c1", "web"), labels("c2", 'd"b\\x'), labels()}
    assert m["ptag_untrusted_tags_total"] == {(("key", "container.id"),): 1}
    assert m["ptag_untrusted_tag_processes"] == {(("key", "container.id"),): 1}
    assert m["ptag_kernel_supported"] == {(): 1}
    assert m["ptag_scrape_errors_total"] == {(): 0}
    assert m["ptag_scrape_duration_seconds"][()] >= 0
    m = scrape(c)
    assert m["ptag_group_processes"][labels("c1", "web")] == 1
    # 10's 100 ticks stay: 100 + 60
    assert m["ptag_group_cpu_seconds_total"][labels("c1", "web", mode="user")] == 160 / TICK
    assert m["ptag_untrusted_tags_total"] == {(("key", "container.id"),): 1}


def test_a_failed_scan_is_counted_and_keeps_the_last_figures() -> None:
    scans = Scans([proc(10, 1, 5, WEB)], OSError(24, "Too many open files"))
    c = PtagCollector(config(), scan=scans, kernel_supported=False)
    first = scrape(c)
    second = scrape(c)
    assert second["ptag_scrape_errors_total"] == {(): 1}
    assert second["ptag_group_processes"] == first["ptag_group_processes"]
    assert second["ptag_kernel_supported"] == {(): 0}


def test_concurrent_scrapes_scan_one_at_a_time() -> None:
    inside = 0
    most = 0
    lock = threading.Lock()

    def slow_scan() -> Iterator[ProcessStats]:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        for i in range(2000):
            yield proc(100 + i, 1, i, WEB)
        with lock:
            inside -= 1

    c = PtagCollector(config(), scan=slow_scan, kernel_supported=True)
    reg = registry_for(c)
    threads = [threading.Thread(target=render, args=(reg,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1


def test_promtool_accepts_a_scrape_with_awkward_values() -> None:
    scans = Scans([proc(10, 1, 5, WEB), proc(20, 1, 7, DB), proc(30, 1, 1, FAKE)])
    text = render(registry_for(PtagCollector(config(), scan=scans, kernel_supported=True)))
    p = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_promtool_accepts_a_scrape_of_this_machine() -> None:
    reg = registry_for(PtagCollector(Config()))
    render(reg)
    text = render(reg)  # the second scrape: counters carried over
    assert b"ptag_group_processes{" in text
    p = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout == b"" and p.stderr == b""
