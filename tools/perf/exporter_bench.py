#!/usr/bin/env python3
"""Benchmark ptag exporter against Debian's prometheus-process-exporter (issue 14).

* One scrape over a farm of sleeping processes (``--procs``, 2000 by default): both
  exporters serve on loopback and are scraped in turns, ``--scrapes`` times each (20),
  after two warm-up scrapes each; the figure is the ratio of the median scrape times
  (ptag / process-exporter; goal <= 1.0).  process-exporter groups the same processes
  by name (``{{.Comm}}``), once with its default flags (threads and smaps on, as it
  ships) and once with ``-threads=false -gather-smaps=false`` (what ptag reads).
* The exporter's resident memory over ``--churn-scrapes`` scrapes (1000) while the farm
  churns (``--churn`` processes replaced before each scrape, so PIDs come and go):
  VmRSS every 100 scrapes; it should stay flat.

Prints JSON (``--json`` writes it to a file too).  Measures; does not judge: the
exit status is 0 unless the benchmark itself failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

GOAL_RATIO = 1.0
REPO = Path(__file__).resolve().parents[2]


class Farm:
    """Sleeping forked children; ``churn(n)`` replaces the n oldest."""

    def __init__(self, n: int) -> None:
        self.pids: list[int] = []
        for _ in range(n):
            self.spawn()

    def spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.pause()
            os._exit(0)
        self.pids.append(pid)

    def churn(self, n: int) -> None:
        old, self.pids = self.pids[:n], self.pids[n:]
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        for pid in old:
            os.waitpid(pid, 0)
        for _ in range(n):
            self.spawn()

    def close(self) -> None:
        for pid in self.pids:
            os.kill(pid, signal.SIGKILL)
        for pid in self.pids:
            os.waitpid(pid, 0)
        self.pids = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            scrape(url)
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{proc.args!r} did not start serving {url}") from None
            time.sleep(0.2)


def scrape(url: str) -> tuple[float, int]:
    """(seconds, bytes) of one GET of ``url``."""
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        size = len(r.read())
    return time.perf_counter() - t, size


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def start(cmd: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def ptag_cmd() -> list[str]:
    venv_bin = os.path.dirname(sys.executable)
    exe = shutil.which("ptag", path=venv_bin) or shutil.which("ptag")
    if exe is None:
        raise RuntimeError("ptag is not installed (run tools/setup)")
    return [exe, "exporter"]


def compare(procs: int, scrapes: int, tmp: str) -> dict[str, Any]:
    pe = shutil.which("prometheus-process-exporter")
    if pe is None:
        raise RuntimeError("prometheus-process-exporter is missing (tools/setup installs it)")
    config = os.path.join(tmp, "process-exporter.yml")
    with open(config, "w") as f:
        f.write('process_names:\n  - name: "{{.Comm}}"\n    cmdline:\n    - ".+"\n')
    ports = {name: free_port() for name in ("ptag", "pe_default", "pe_lean")}
    base = [pe, "-config.path", config]
    cmds = {
        "ptag": [*ptag_cmd(), "--listen", f"127.0.0.1:{ports['ptag']}"],
        "pe_default": [*base, "-web.listen-address", f"127.0.0.1:{ports['pe_default']}"],
        "pe_lean": [
            *base,
            "-threads=false",
            "-gather-smaps=false",
            "-web.listen-address",
            f"127.0.0.1:{ports['pe_lean']}",
        ],
    }
    farm = Farm(procs)
    servers = {name: start(cmd) for name, cmd in cmds.items()}
    try:
        urls = {name: f"http://127.0.0.1:{port}/metrics" for name, port in ports.items()}
        for name, url in urls.items():
            wait_up(url, servers[name])
            scrape(url)  # the second warm-up scrape
        times: dict[str, list[float]] = {name: [] for name in urls}
        sizes: dict[str, int] = {}
        for _ in range(scrapes):
            for name, url in urls.items():  # in turns, so that drift hits all alike
                seconds, sizes[name] = scrape(url)
                times[name].append(seconds)
        visible = sum(1 for n in os.listdir("/proc") if n.isdigit())
    finally:
        for proc in servers.values():
            stop(proc)
        farm.close()
    med = {name: statistics.median(t) * 1000 for name, t in times.items()}
    return {
        "processes_visible": visible,
        "scrapes_each": scrapes,
        "median_ms": med,
        "min_ms": {name: min(t) * 1000 for name, t in times.items()},
        "max_ms": {name: max(t) * 1000 for name, t in times.items()},
        "response_bytes": sizes,
        "ratio_vs_default": med["ptag"] / med["pe_default"],
        "ratio_vs_lean": med["ptag"] / med["pe_lean"],
        "goal_ratio": GOAL_RATIO,
        "commands": {name: " ".join(c) for name, c in cmds.items()},
        "process_exporter_config": open(config).read(),
    }


def churn_rss(procs: int, scrapes: int, churn: int) -> dict[str, Any]:
    port = free_port()
    farm = Farm(procs)
    server = start([*ptag_cmd(), "--listen", f"127.0.0.1:{port}", "--retention", "300"])
    url = f"http://127.0.0.1:{port}/metrics"
    series: list[tuple[int, int]] = []
    try:
        wait_up(url, server)
        series.append((1, rss_kib(server.pid)))
        started = time.monotonic()
        for i in range(2, scrapes + 1):
            farm.churn(churn)
            scrape(url)
            if i % 100 == 0:
                series.append((i, rss_kib(server.pid)))
        elapsed = time.monotonic() - started
    finally:
        stop(server)
        farm.close()
    return {
        "processes": procs,
        "churn_per_scrape": churn,
        "scrapes": scrapes,
        "seconds": elapsed,
        "rss_kib": series,
        "rss_growth_kib_after_100": series[-1][1] - series[1][1],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--procs", type=int, default=2000, help="sleeping processes (2000)")
    p.add_argument("--scrapes", type=int, default=20, help="timed scrapes of each (20)")
    p.add_argument("--churn-scrapes", type=int, default=1000, help="scrapes for RSS (1000)")
    p.add_argument("--churn", type=int, default=20, help="processes replaced per scrape (20)")
    p.add_argument("--json", metavar="PATH", help="also write the JSON to PATH")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result: dict[str, Any] = {
            "command": "tools/perf/exporter_bench.py " + " ".join(argv or sys.argv[1:]),
            "parameters": {k: v for k, v in vars(args).items() if k != "json"},
            "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "cpus": os.cpu_count(),
            "scrape": compare(args.procs, args.scrapes, tmp),
            "rss": churn_rss(args.procs, args.churn_scrapes, args.churn),
        }
    text = json.dumps(result, indent=2) + "\n"
    if args.json:
        Path(args.json).write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
