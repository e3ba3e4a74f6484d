#!/usr/bin/env python3
"""``podman run --rm`` and ``docker run --rm`` through ptag-runtime against the bare
runtime, end to end, in the VM (issue 13).

    tools/vm run --kernel bench -- tools/runtimes/engine_bench.py [--runs N] [--json FILE]

Starts the engines the way the runtime tests do (tests/runtimes/engines.py: state in
scratch directories on a tmpfs, vfs storage, no network, a busybox image imported,
nothing pulled), then, for N interleaved rounds in a shuffled order, times from spawn
to exit:

- ``podman --runtime crun run --rm --network none IMAGE true`` against the same with
  ``--runtime .../ptag-runtime --runtime-flag ptag-runtime=crun``;
- ``docker run --rm --network none --runtime runc IMAGE true`` against
  ``--runtime ptag`` (the daemon.json that ``ptag install docker`` writes; its real
  runtime is runc, Docker's default);
- and, as the floor of any wrapper of this shape, the same through a *null wrapper*:
  a two-line sh script that only execs the real runtime.  What it costs over bare is
  what an exec'd wrapper costs before it does anything; what ptag-runtime costs over
  it is ptag's own work (the front's parsing, and Python for create).

One warm-up run of each first, not timed; the null wrapper's warm-up also records
which runtime commands the engine ran (``calls``).  Prints the medians and their
ratios (goal <= 1.05); ``--json`` writes a docs/perf topic file (``engines-vm``).
Measures, does not judge: exits 0 unless a command failed.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "runtimes"))

import engines  # noqa: E402  (tests/runtimes/engines.py)

GOAL = 1.05
IMAGE = "localhost/ptag-busybox"


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds from spawn to exit of *argv*; a failure ends the benchmark."""
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    t1 = time.perf_counter()
    if p.returncode != 0:
        raise SystemExit(
            f"engine_bench: {' '.join(argv)} failed with status {p.returncode}: "
            f"{p.stderr.strip()[-500:]}"
        )
    return t1 - t0


NULL_WRAPPER = """#!/bin/sh
# the null wrapper: exec the real runtime, nothing else
{log}exec {real} "$@"
"""


def null_wrapper(directory: Path, real: str, log: Path | None = None) -> str:
    """Write the null wrapper for *real* (with *log*: one that also appends its
    arguments there, for counting the engine's calls) and return its path."""
    name = f"null-{Path(real).name}" + ("-counting" if log else "")
    path = directory / name
    line = f'echo "$*" >> {log}\n' if log else ""
    path.write_text(NULL_WRAPPER.format(log=line, real=real))
    path.chmod(0o755)
    return str(path)


def calls(log: Path) -> list[str]:
    """The runtime commands in a counting wrapper's log: the first word of each line
    that is not a global option (crun's and runc's global options here all take
    their value as --opt=VALUE or come alone, and the --root/--log pairs)."""
    out = []
    takes_value = {"--root", "--log", "--log-format", "--cgroup-manager", "--criu"}
    for line in log.read_text().splitlines():
        words = line.split()
        i = 0
        while i < len(words) and words[i].startswith("-"):
            i += 2 if words[i] in takes_value else 1
        out.append(words[i] if i < len(words) else "?")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20, help="timed rounds (default 20)")
    ap.add_argument("--kernel", default="bench", help="the kernel's name, for the record")
    ap.add_argument("--json", metavar="FILE", help="write a docs/perf topic file")
    args = ap.parse_args()
    engines.require("podman", "conmon", "crun", "runc", "dockerd", "containerd")

    cases: dict[str, tuple[list[str], dict[str, str] | None]] = {}
    startup: dict[str, float] = {}

    podman = engines.Podman()
    engines.run(
        podman.podman("import", str(engines.busybox_tarball(podman.dir)), IMAGE), env=podman.env
    )
    wrapper = ("--runtime", engines.program("ptag-runtime"), "--runtime-flag", "ptag-runtime=crun")
    run_rm = ("run", "--rm", "--network", "none", IMAGE, "true")
    cases["podman"] = (podman.podman("--runtime", "crun", *run_rm), podman.env)
    cases["podman_wrapped"] = (podman.podman(*wrapper, *run_rm), podman.env)
    floor = engines.scratch("null-wrapper")
    crun = shutil.which("crun") or "crun"
    runc = shutil.which("runc") or "runc"
    cases["podman_null"] = (
        podman.podman("--runtime", null_wrapper(floor, crun), *run_rm),
        podman.env,
    )
    counting = {
        "podman": podman.podman(
            "--runtime", null_wrapper(floor, crun, floor / "podman.calls"), *run_rm
        ),
    }

    root = engines.scratch("docker-sys")
    engines.ptag_install(root, "docker")
    daemon_json = root / "etc/docker/daemon.json"
    conf = json.loads(daemon_json.read_text())
    conf["runtimes"]["null-wrapper"] = {"path": null_wrapper(floor, runc)}
    conf["runtimes"]["null-counting"] = {"path": null_wrapper(floor, runc, floor / "docker.calls")}
    daemon_json.write_text(json.dumps(conf, indent=2) + "\n")
    t0 = time.monotonic()
    dockerd = engines.Dockerd(daemon_json)
    startup["dockerd_s"] = round(time.monotonic() - t0, 1)
    try:
        engines.run(
            dockerd.docker("import", str(engines.busybox_tarball(dockerd.dir)), "ptag-busybox")
        )
        docker_rm = ("run", "--rm", "--network", "none")
        cases["docker"] = (
            dockerd.docker(*docker_rm, "--runtime", "runc", "ptag-busybox", "true"),
            None,
        )
        cases["docker_wrapped"] = (
            dockerd.docker(*docker_rm, "--runtime", "ptag", "ptag-busybox", "true"),
            None,
        )
        cases["docker_null"] = (
            dockerd.docker(*docker_rm, "--runtime", "null-wrapper", "ptag-busybox", "true"),
            None,
        )
        counting["docker"] = dockerd.docker(
            *docker_rm, "--runtime", "null-counting", "ptag-busybox", "true"
        )
        for name, (argv, env) in cases.items():
            print(f"engine_bench: warm-up {name}: {timed(argv, env):.2f} s", flush=True)
        for engine, argv in counting.items():
            timed(argv, cases[engine][1])
            print(f"engine_bench: {engine} runs: {calls(floor / f'{engine}.calls')}", flush=True)
        results: dict[str, list[float]] = {name: [] for name in cases}
        rng = random.Random(13)
        for r in range(args.runs):
            order = list(cases)
            rng.shuffle(order)
            for name in order:
                results[name].append(timed(*cases[name]))
            print(
                f"engine_bench: round {r + 1}/{args.runs}: "
                + ", ".join(f"{n} {results[n][-1]:.2f}" for n in cases),
                flush=True,
            )
    finally:
        dockerd.stop()

    figures: dict[str, dict[str, object]] = {}
    raw: dict[str, dict[str, object]] = {}
    print(
        f"{'':8} {'bare s':>8} {'null s':>8} {'wrapped s':>10} {'null/bare':>9} "
        f"{'ratio':>6}  (median of {args.runs})"
    )
    for engine, real in (("podman", "crun"), ("docker", "runc")):
        bare = statistics.median(results[engine])
        null = statistics.median(results[f"{engine}_null"])
        wrapped = statistics.median(results[f"{engine}_wrapped"])
        ratio = wrapped / bare
        print(f"{engine:8} {bare:8.3f} {null:8.3f} {wrapped:10.3f} {null / bare:9.3f} {ratio:6.3f}")
        what = f"{engine} run --rm (real runtime {real})"
        figures[f"{engine}_run_rm_s"] = {"value": round(bare, 3), "unit": "s", "what": what}
        figures[f"{engine}_run_rm_wrapped_s"] = {
            "value": round(wrapped, 3),
            "unit": "s",
            "what": f"{what} through ptag-runtime",
        }
        figures[f"{engine}_run_rm_ratio"] = {
            "value": round(ratio, 3),
            "unit": "ratio",
            "goal_max": GOAL,
            "what": f"{engine} run --rm: ptag-runtime / bare",
        }
        figures[f"{engine}_run_rm_null_s"] = {
            "value": round(null, 3),
            "unit": "s",
            "what": f'{what} through the null wrapper (sh, exec {real} "$@")',
        }
        figures[f"{engine}_run_rm_null_ratio"] = {
            "value": round(null / bare, 3),
            "unit": "ratio",
            "what": f"{engine} run --rm: null wrapper / bare, the floor of an exec'd wrapper",
        }
        figures[f"{engine}_run_rm_ptag_over_null_ratio"] = {
            "value": round(wrapped / null, 3),
            "unit": "ratio",
            "what": f"{engine} run --rm: ptag-runtime / null wrapper, ptag's own work",
        }
        engine_calls = calls(floor / f"{engine}.calls")
        figures[f"{engine}_runtime_calls"] = {
            "value": len(engine_calls),
            "unit": "calls",
            "what": f"runtime commands per {engine} run --rm: {' '.join(engine_calls)}",
        }
        raw[engine] = {
            "bare_command": " ".join(cases[engine][0]),
            "wrapped_command": " ".join(cases[f"{engine}_wrapped"][0]),
            "null_command": " ".join(cases[f"{engine}_null"][0]),
            "runtime_calls": engine_calls,
            "bare_s": [round(x, 3) for x in results[engine]],
            "wrapped_s": [round(x, 3) for x in results[f"{engine}_wrapped"]],
            "null_s": [round(x, 3) for x in results[f"{engine}_null"]],
        }
    if args.json:
        doc = {
            "topic": "engines-vm",
            "measured": time.strftime("%Y-%m-%d"),
            "machine": f"the test VM under TCG, Linux {platform.release()} ({args.kernel} "
            "kernel), 2 vCPUs, on a 2-core host",
            "python": engines.ptag_runtime_python(),
            "method": f"tools/runtimes/engine_bench.py --runs {args.runs}: engines as in "
            "tests/runtimes/engines.py (vfs, no network, busybox image imported); one "
            "warm-up each, then interleaved rounds in a shuffled order, spawn to exit, "
            "medians",
            "startup": startup,
            "figures": figures,
            "raw": raw,
        }
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
