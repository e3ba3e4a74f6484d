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

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "libptag"))
import ptag  # the repository's, also when run by a bare python3

GOAL_RATIO = 1.0
REPO = Path(__file__).resolve().parents[2]


class Farm:
    """Sleeping forked children; ``churn(n)`` replaces the n oldest.

    With *groups* > 0 (a kernel with ptags), child i tags itself
    ``container.id=farm-<i mod groups>`` and ``container.name=farm<i mod groups>``
    before it sleeps: the exporter then reads and groups real tags.
    """

    def __init__(self, n: int, groups: int = 0) -> None:
        self.pids: list[int] = []
        self.groups = groups
        self.spawned = 0
        for _ in range(n):
            self.spawn()

    def spawn(self) -> None:
        group = self.spawned % self.groups if self.groups else -1
        self.spawned += 1
        pid = os.fork()
        if pid == 0:
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                if group >= 0:
                    ptag.set("container.id", f"farm-{group}")
                    ptag.set("container.name", f"farm{group}")
                signal.pause()
            finally:
                os._exit(1)
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


def compare(procs: int, scrapes: int, tmp: str, groups: int) -> dict[str, Any]:
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
    farm = Farm(procs, groups)
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


def churn_rss(procs: int, scrapes: int, churn: int, groups: int) -> dict[str, Any]:
    port = free_port()
    farm = Farm(procs, groups)
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


def package_version(name: str) -> str | None:
    """The Debian package's version, if dpkg knows it."""
    try:
        p = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", name], capture_output=True, text=True
        )
    except OSError:
        return None
    return p.stdout.strip() or None


def module_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def figures(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The topic-file figures (docs/perf/README.md) of one run."""
    sc = result["scrape"]
    n = sc["processes_visible"]
    med = sc["median_ms"]
    out: dict[str, dict[str, Any]] = {
        "scrape_ptag_ms": {
            "value": round(med["ptag"], 1),
            "unit": "ms",
            "what": f"one scrape of ptag exporter, {n} processes (median of {sc['scrapes_each']})",
        },
        "scrape_process_exporter_ms": {
            "value": round(med["pe_default"], 1),
            "unit": "ms",
            "what": "the same scrape of prometheus-process-exporter, grouping by name, "
            "its default flags",
        },
        "scrape_process_exporter_lean_ms": {
            "value": round(med["pe_lean"], 1),
            "unit": "ms",
            "what": "the same, -threads=false -gather-smaps=false",
        },
        "scrape_ratio": {
            "value": round(sc["ratio_vs_default"], 3),
            "unit": "ratio",
            "what": "ptag exporter / process-exporter (default flags), median scrape times",
        },
        "scrape_ratio_lean": {
            "value": round(sc["ratio_vs_lean"], 3),
            "unit": "ratio",
            "what": "ptag exporter / process-exporter (lean flags)",
        },
    }
    if result["topic"] == "exporter":  # the goal is judged on the host's CPU
        out["scrape_ratio"]["goal_max"] = GOAL_RATIO
    rss = result.get("rss")
    if rss:
        out["rss_growth_kib"] = {
            "value": rss["rss_growth_kib_after_100"],
            "unit": "count",
            "what": f"exporter VmRSS growth in KiB from scrape 100 to {rss['scrapes']}, "
            f"{rss['churn_per_scrape']} processes replaced before each",
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--procs", type=int, default=2000, help="sleeping processes (2000)")
    p.add_argument("--scrapes", type=int, default=20, help="timed scrapes of each (20)")
    p.add_argument("--churn-scrapes", type=int, default=1000, help="scrapes for RSS (1000)")
    p.add_argument("--churn", type=int, default=20, help="processes replaced per scrape (20)")
    p.add_argument(
        "--groups",
        type=int,
        default=0,
        help="tag the farm into this many containers (needs a kernel with ptags; 0: untagged)",
    )
    p.add_argument("--json", metavar="PATH", help="also write the JSON to PATH")
    args = p.parse_args(argv)
    if args.groups and not ptag.supported():
        p.error("--groups needs a kernel with process tags (run it in the VM)")
    in_vm = os.environ.get("PTAG_IN_VM") == "1"
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        result: dict[str, Any] = {
            "topic": "exporter-vm" if in_vm else "exporter",
            "measured": time.strftime("%Y-%m-%d", time.gmtime()),
            "command": "tools/perf/exporter_bench.py " + " ".join(argv or sys.argv[1:]),
            "parameters": {k: v for k, v in vars(args).items() if k != "json"},
            "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "cpus": os.cpu_count(),
            "process_exporter": package_version("prometheus-process-exporter"),
            "prometheus_client": module_version("prometheus_client"),
            "scrape": compare(args.procs, args.scrapes, tmp, args.groups),
            "rss": churn_rss(args.procs, args.churn_scrapes, args.churn, args.groups)
            if args.churn_scrapes
            else None,
        }
    load_after = os.getloadavg()
    result["machine"] = (
        f"{'the test VM under TCG' if in_vm else 'the host'}, {os.cpu_count()} CPUs, Linux "
        f"{platform.release()}, {'with' if ptag.supported() else 'without'} ptags"
        + (f", the farm tagged into {args.groups} containers" if args.groups else "")
        + f"; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    result["figures"] = figures(result)
    text = json.dumps(result, indent=2) + "\n"
    if args.json:
        Path(args.json).write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
