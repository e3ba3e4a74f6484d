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
  runtime is runc, Docker's default).

One warm-up run of each first, not timed.  Prints the medians and their ratios
(goal <= 1.05); ``--json`` writes a docs/perf topic file (``engines-vm``).  Measures,
does not judge: exits 0 unless a command failed.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="timed rounds (default 10)")
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

    root = engines.scratch("docker-sys")
    engines.ptag_install(root, "docker")
    t0 = time.monotonic()
    dockerd = engines.Dockerd(root / "etc/docker/daemon.json")
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
        for name, (argv, env) in cases.items():
            print(f"engine_bench: warm-up {name}: {timed(argv, env):.2f} s", flush=True)
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
    print(f"{'':8} {'bare s':>8} {'wrapped s':>10} {'ratio':>6}  (median of {args.runs})")
    for engine, real in (("podman", "crun"), ("docker", "runc")):
        bare = statistics.median(results[engine])
        wrapped = statistics.median(results[f"{engine}_wrapped"])
        ratio = wrapped / bare
        print(f"{engine:8} {bare:8.3f} {wrapped:10.3f} {ratio:6.3f}")
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
        raw[engine] = {
            "bare_command": " ".join(cases[engine][0]),
            "wrapped_command": " ".join(cases[f"{engine}_wrapped"][0]),
            "bare_s": [round(x, 3) for x in results[engine]],
            "wrapped_s": [round(x, 3) for x in results[f"{engine}_wrapped"]],
        }
    if args.json:
        doc = {
            "topic": "engines-vm",
            "measured": time.strftime("%Y-%m-%d"),
            "machine": f"the test VM under TCG, Linux {platform.release()} ({args.kernel} "
            "kernel), 2 vCPUs, on a 2-core host",
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
