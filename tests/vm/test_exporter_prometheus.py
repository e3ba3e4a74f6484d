"""ptag exporter with its real consumer: Debian's Prometheus scrapes it on loopback
while two tagged workloads run (a crun container tagged by ``ptag oci-hook``, and a
``ptag-exec`` job) next to a process of an unprivileged user that tags itself.

Asserted through Prometheus's HTTP API: each workload's ``ptag_group_processes``;
its CPU counter never decreases, across the scrape where one of its processes (which
burned CPU first) exited; the self-set tag made no group and was counted; and
``promtool check metrics`` accepts a scrape.  When ``.work/vm-out`` is writable the
containers' CPU counters go to ``exporter-cpu.json`` there, for the docs' picture
(``tools/perf/exporter_svg.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ptag

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CONTAINER = "exporter-web"
JOB = "exporter-batch"
EVIL = "exporter-evil"
CPU = "ptag_group_cpu_seconds_total"
# Wait (blocked opening a FIFO: no CPU, no child process) until the test says go,
# burn two seconds of CPU (the shell's own utime + stime, read from /proc without
# forking, so on any machine, TCG or KVM), then sleep as "sleep 99999", which is
# how the test finds the burner to kill it.
TICKS = os.sysconf("SC_CLK_TCK") * 2


def burn_script(fifo: str | Path) -> str:
    return (
        f"read -r go < {fifo}\n"
        "while :; do read -r l < /proc/self/stat; set -- $l; "
        f"[ $(( ${{14}} + ${{15}} )) -ge {TICKS} ] && break; done\n"
        "exec /bin/busybox sleep 99999\n"
    )


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: run tools/setup (Debian's prometheus, crun, util-linux)"
    return path


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


class Prom:
    """Debian's prometheus on loopback, storing on /tmp (a tmpfs in the VM)."""

    def __init__(self, workdir: Path, target: str) -> None:
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n"
            "  scrape_interval: 3s\n"
            "  scrape_timeout: 3s\n"
            "scrape_configs:\n"
            "  - job_name: ptag\n"
            "    static_configs:\n"
            f"      - targets: ['{target}']\n"
        )
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(workdir / "prometheus.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(self.base + "/-/ready", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert self.proc.poll() is None, (workdir / "prometheus.log").read_text()
            assert time.monotonic() < deadline, "prometheus did not become ready"
            time.sleep(0.5)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result list."""
        data = get_json(f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert data["status"] == "success", data
        result: list[dict[str, Any]] = data["data"]["result"]
        return result

    def value(self, expr: str) -> float | None:
        """The single value of an instant query, None when it has no result."""
        result = self.query(expr)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def samples(self, expr: str) -> list[tuple[float, float]]:
        """The raw samples of one series (``expr`` is a range selector)."""
        result = self.query(expr)
        assert len(result) == 1, result
        return [(float(t), float(v)) for t, v in result[0]["values"]]

    def scrapes(self) -> int:
        """How many times Prometheus has scraped the exporter so far."""
        v = self.value('count_over_time(up{job="ptag"}[1h])')
        return int(v or 0)

    def wait(self, what: str, check: Any, timeout: float = 240) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            got = check()
            if got:
                return got
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.5)

    def wait_scrapes(self, n: int) -> None:
        start = self.scrapes()
        self.wait(f"{n} more scrapes", lambda: self.scrapes() >= start + n)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


T0 = time.monotonic()


def say(what: str) -> None:
    """Progress, with the time since the module was loaded (pytest -s shows it)."""
    print(f"[{time.monotonic() - T0:6.1f} s] {what}", flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def crun_bundle(workdir: Path, ctl: Path) -> Path:
    """A crun bundle: busybox, the ptag hook, the control directory bind-mounted at
    /ctl, and an init that starts two sleepers and a CPU burner, then waits: four
    processes, three once the burner has stopped."""
    bundle = workdir / "bundle"
    (bundle / "rootfs" / "bin").mkdir(parents=True)
    (bundle / "rootfs" / "ctl").mkdir()
    shutil.copy("/bin/busybox", bundle / "rootfs" / "bin" / "busybox")
    subprocess.run([tool("crun"), "spec"], cwd=bundle, check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = [
        "/bin/busybox",
        "sh",
        "-c",
        "/bin/busybox sleep 100000 & /bin/busybox sleep 100000 & "
        "/bin/busybox sh /ctl/burn-web.sh & wait",
    ]
    config["mounts"].append(
        {"destination": "/ctl", "type": "bind", "source": str(ctl), "options": ["rbind", "rw"]}
    )
    config["hooks"] = {
        "createRuntime": [
            {
                "path": str(BIN / "ptag"),
                "args": ["ptag", "oci-hook", "--runtime", "crun"],
                "timeout": 60,
            }
        ]
    }
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def group_pids(key_value: tuple[str, str]) -> list[int]:
    """The PIDs whose tag ``key`` has ``value``, from the library's scan."""
    key, value = key_value
    return [
        p.pid
        for p in ptag.process_iter(cgroup=False)
        if (t := p.tags.get(key)) is not None and t.value == value and t.owner == 0
    ]


def burner(ident: str) -> int | None:
    """The PID of the container's (or job's) burner once it has done burning."""
    for pid in group_pids(("container.id", ident)):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().split(b"\0")[1:3] == [b"sleep", b"99999"]:
                    return pid
        except OSError:
            pass
    return None


def cpu_of(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    return sum(
        (p.utime + p.stime) / tick
        for p in ptag.process_iter(pids=pids, cgroup=False, stats=True)
        if isinstance(p, ptag._types.ProcessStats)
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    os.chmod(tmp_path, 0o755)
    yield tmp_path


def test_prometheus_scrapes_groups_from_tags(workdir: Path) -> None:
    ctl = workdir / "ctl"
    ctl.mkdir()
    # the container sees ctl as /ctl; the job sees it where it is
    (ctl / "burn-web.sh").write_text(burn_script("/ctl/go-web"))
    (ctl / "burn-batch.sh").write_text(burn_script(ctl / "go-batch"))
    for name in ("web", "batch"):
        os.mkfifo(ctl / f"go-{name}")
    started: list[subprocess.Popen[bytes]] = []
    sessions: list[subprocess.Popen[bytes]] = []  # killed with their process group
    prom = None
    crun = tool("crun")
    try:
        exporter = subprocess.Popen(
            [str(BIN / "ptag"), "exporter", "--listen", "127.0.0.1:0", "--retention", "600"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        started.append(exporter)
        assert exporter.stdout is not None
        line = exporter.stdout.readline().decode()
        assert line.startswith("ptag exporter: serving http://127.0.0.1:"), line
        url = line.split()[-1]
        target = url.split("/")[2]
        # Prometheus first, so that it sees the workloads start and burn
        prom = Prom(workdir, target)
        began = time.time()
        say("prometheus ready")

        bundle = crun_bundle(workdir, ctl)
        web = subprocess.Popen(
            [crun, "run", "--bundle", str(bundle), CONTAINER],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        started.append(web)
        batch = subprocess.Popen(
            [
                str(BIN / "ptag-exec"),
                "-t",
                f"container.id={JOB}",
                "-t",
                "container.name=batch",
                "--",
                "/bin/busybox",
                "sh",
                "-c",
                f"/bin/busybox sleep 100000 & /bin/busybox sh {ctl / 'burn-batch.sh'} & wait",
            ],
            start_new_session=True,
        )
        sessions.append(batch)
        # an unprivileged user's process that claims a container by tagging itself
        evil = subprocess.Popen(
            [
                tool("setpriv"),
                "--reuid=1000",
                "--regid=1000",
                "--clear-groups",
                str(BIN / "ptag-exec"),
                "-t",
                f"container.id={EVIL}",
                "--",
                "/bin/busybox",
                "sleep",
                "100000",
            ],
            start_new_session=True,
        )
        sessions.append(evil)

        say("workloads started")
        web_sel = f'container_id="{CONTAINER}"'
        job_sel = f'container_id="{JOB}"'
        prom.wait(
            "both workloads at full strength",
            lambda: (
                prom is not None
                and prom.value(f"ptag_group_processes{{{web_sel}}}") == 4
                and prom.value(f"ptag_group_processes{{{job_sel}}}") == 3
            ),
        )
        say("both workloads seen")
        # the library's own scan agrees on the members
        assert len(group_pids(("container.id", CONTAINER))) == 4
        assert len(group_pids(("container.id", JOB))) == 3
        info = prom.query(f"last_over_time(ptag_group_info{{{web_sel}}}[1m])")
        assert info and info[0]["metric"]["container_runtime"] == "crun"
        assert prom.query(
            f'last_over_time(ptag_group_info{{{job_sel},container_name="batch"}}[1m])'
        )

        # promtool on a scrape taken while everything runs
        with urllib.request.urlopen(url, timeout=30) as r:
            scrape = r.read()
        check = subprocess.run([tool("promtool"), "check", "metrics"], input=scrape)
        assert check.returncode == 0

        # start one burner, then the other; once they have burned (and sleep), let
        # Prometheus scrape, then kill them
        prom.wait_scrapes(2)
        burners = {}
        for name, ident in (("web", CONTAINER), ("batch", JOB)):
            with open(ctl / f"go-{name}", "w") as go:
                go.write("go\n")
            burners[name] = prom.wait(f"the {name} burner", lambda ident=ident: burner(ident))
            prom.wait_scrapes(1)
        burned = {name: cpu_of([pid]) for name, pid in burners.items()}
        say(f"burners done: {burned}")
        assert min(burned.values()) >= 2, burned
        prom.wait_scrapes(3)
        before = time.time()
        for pid in burners.values():
            os.kill(pid, signal.SIGKILL)
        prom.wait(
            "the burners' exit",
            lambda: (
                prom is not None
                and prom.value(f"ptag_group_processes{{{web_sel}}}") == 3
                and prom.value(f"ptag_group_processes{{{job_sel}}}") == 2
            ),
        )
        say("burners' exit seen")
        prom.wait_scrapes(3)
        span = f"[{int(time.time() - before) + 120}s]"
        for name, sel in (("web", web_sel), ("batch", job_sel)):
            procs = prom.samples(f"ptag_group_processes{{{sel}}}{span}")
            cpu = {
                mode: dict(
                    prom.samples(f'ptag_group_cpu_seconds_total{{{sel},mode="{mode}"}}{span}')
                )
                for mode in ("user", "system")
            }
            total = {t: v + cpu["system"][t] for t, v in cpu["user"].items()}
            # the scrape where a process had exited: processes fell by one
            exits = [t for (t0, n0), (t, n) in zip(procs, procs[1:]) if n == n0 - 1 and t0 < t]
            assert exits, procs
            for mode, series in cpu.items():
                values = [series[t] for t in sorted(series)]
                assert values == sorted(values), (sel, mode, series)
            ts = sorted(total)
            for t in exits:
                i = ts.index(t)
                assert i > 0 and total[ts[i]] >= total[ts[i - 1]], (sel, t, total)
            # the counter still holds what the exited burner used
            assert total[ts[-1]] >= burned[name], (sel, total, burned)
        # no group for the self-set tag: it is in the untagged group, and counted
        assert prom.query(f'{{container_id="{EVIL}"}}[10m]') == []
        assert (
            prom.value('last_over_time(ptag_untrusted_tag_processes{key="container.id"}[1m])') == 1
        )
        untrusted = prom.value('last_over_time(ptag_untrusted_tags_total{key="container.id"}[1m])')
        assert untrusted is not None and untrusted >= 1
        assert prom.value("last_over_time(ptag_kernel_supported[1m])") == 1
        assert prom.value("max_over_time(ptag_scrape_errors_total[10m])") == 0
        slowest = prom.value('max_over_time(scrape_duration_seconds{job="ptag"}[10m])')
        scan = prom.value("max_over_time(ptag_scrape_duration_seconds[10m])")
        failed = prom.value('count_over_time((up{job="ptag"} == 0)[10m:3s])')
        say(f"slowest scrape {slowest} s (scan {scan} s), failed scrapes {failed}")
        save_series(prom, before, began)
    finally:
        if prom is not None:
            prom.close()
        subprocess.run([crun, "kill", CONTAINER, "KILL"], stderr=subprocess.DEVNULL)
        for p in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
        for p in started:
            if p.poll() is None:
                p.terminate()
        for p in started + sessions:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        subprocess.run([crun, "delete", "-f", CONTAINER], stderr=subprocess.DEVNULL)


def save_series(prom: Prom, stop: float, start: float) -> None:
    """The raw CPU counter samples of every container over the run, for the docs'
    picture (tools/perf/exporter_svg.py), when .work/vm-out is writable."""
    out = REPO / ".work" / "vm-out"
    if not os.access(out, os.W_OK):
        return
    span = int(time.time() - start) + 5
    expr = f'{CPU}{{container_id!=""}}[{span}s]'
    record = {
        "query": expr,
        "burners_killed_at": stop,
        "source": "tests/vm/test_exporter_prometheus.py: Prometheus /api/v1/query",
        "kernel": os.uname().release,
        "result": prom.query(expr),
    }
    (out / "exporter-cpu.json").write_text(json.dumps(record, indent=1) + "\n")
