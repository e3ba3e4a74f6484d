#!/usr/bin/env python3
"""Pass-through latency of ptag-runtime against the bare runtime, on the host CPU.

    tools/runtimes/passthrough_bench.py [--runs N] [--json FILE]

Times, interleaved (every round runs each command once, in a shuffled order), the
wall-clock time from spawn to exit of:

- ``runc --version`` and ``ptag-runtime --version`` (the real runtime found on PATH:
  runc);
- ``crun --version`` and ``ptag-runtime --version`` with ``PTAG_RUNTIME=crun``;
- ``runc --root R state ID`` of a running busybox container, bare and through
  ptag-runtime (the container is started with runc and deleted at the end);
- ``crun --root R list``, bare and through ptag-runtime;
- for scale, ``runc create --help`` bare and through ptag-runtime: a command the sh
  front hands to the Python half (which then execs runc, since there is nothing to
  tag in a help request): what every pass-through command would cost without the
  front.

Prints a table and, with ``--json``, writes a docs/perf topic file (``runtime``):
medians, their ratios and the goal of issue 13 (pass-through <= 1.3x the bare
runtime).  Run as root (runc needs it to run the container).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FRONT = REPO / "libptag" / "bin" / "ptag-runtime"
sys.path.insert(0, str(REPO / "tests" / "runtimes"))

import bundle  # noqa: E402  (tests/runtimes/bundle.py)


def spawn_time(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from posix_spawn to the child's exit; the command must succeed."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        t0 = time.perf_counter()
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, devnull, 1),
                (os.POSIX_SPAWN_DUP2, devnull, 2),
            ],
        )
        _, status = os.waitpid(pid, 0)
        t1 = time.perf_counter()
    finally:
        os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"passthrough_bench: {argv} failed (status {status:#x})")
    return t1 - t0


def version(runtime: str) -> str:
    """``runc version 1.1.5`` -> ``1.1.5``."""
    out = subprocess.run([runtime, "--version"], capture_output=True, text=True).stdout
    return out.split()[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=200, help="rounds (default 200)")
    ap.add_argument("--json", metavar="FILE", help="write a docs/perf topic file")
    args = ap.parse_args()
    runc = shutil.which("runc")
    crun = shutil.which("crun")
    if runc is None or crun is None:
        raise SystemExit("passthrough_bench: needs runc and crun (tools/setup installs them)")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("PTAG_")}
    system_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    base_env["PATH"] = f"{REPO / '.venv' / 'bin'}:{system_path}"
    crun_env = dict(base_env, PTAG_RUNTIME="crun")
    front = str(FRONT)
    tmp = Path(tempfile.mkdtemp(prefix="ptag-runtime-bench."))
    runc_root, crun_root = str(tmp / "runc-root"), str(tmp / "crun-root")
    os.mkdir(crun_root)
    b = bundle.make_bundle(tmp / "bundle", ["sleep", "3600"])
    cid = "bench"
    subprocess.run(
        [runc, "--root", runc_root, "run", "-d", "--bundle", str(b), cid],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cases = {
        "runc_version": ([runc, "--version"], base_env),
        "runc_version_wrapped": ([front, "--version"], base_env),
        "crun_version": ([crun, "--version"], crun_env),
        "crun_version_wrapped": ([front, "--version"], crun_env),
        "runc_state": ([runc, "--root", runc_root, "state", cid], base_env),
        "runc_state_wrapped": ([front, "--root", runc_root, "state", cid], base_env),
        "crun_list": ([crun, "--root", crun_root, "list"], crun_env),
        "crun_list_wrapped": ([front, "--root", crun_root, "list"], crun_env),
        "runc_create_help": ([runc, "create", "--help"], base_env),
        "runc_create_help_wrapped": ([front, "create", "--help"], base_env),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    load_before = os.getloadavg()[0]
    try:
        for argv, env in cases.values():  # warm the page cache once
            spawn_time(argv, env)
        rng = random.Random(13)
        for _ in range(args.runs):
            order = list(cases)
            rng.shuffle(order)
            for name in order:
                argv, env = cases[name]
                times[name].append(spawn_time(argv, env))
    finally:
        subprocess.run([runc, "--root", runc_root, "delete", "--force", cid], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"

    def ms(name: str) -> float:
        return statistics.median(times[name]) * 1000

    def q(name: str, p: float) -> float:
        xs = sorted(times[name])
        return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000

    figures: dict[str, dict[str, object]] = {}
    pairs = ("runc_version", "crun_version", "runc_state", "crun_list", "runc_create_help")
    print(f"{'command':28} {'bare ms':>9} {'wrapped ms':>11} {'ratio':>6}  (median of {args.runs})")
    print(load)
    for base in pairs:
        wrapped = base + "_wrapped"
        ratio = ms(wrapped) / ms(base)
        print(f"{base:28} {ms(base):9.2f} {ms(wrapped):11.2f} {ratio:6.2f}")
        spread = f"p10-p90 bare {q(base, 0.1):.2f}-{q(base, 0.9):.2f} ms"
        spread += f", wrapped {q(wrapped, 0.1):.2f}-{q(wrapped, 0.9):.2f} ms"
        label = " ".join(cases[base][0]).replace(str(tmp), "$TMP")
        figures[f"{base}_ms"] = {"value": round(ms(base), 2), "unit": "ms", "what": label}
        figures[f"{wrapped}_ms"] = {
            "value": round(ms(wrapped), 2),
            "unit": "ms",
            "what": f"the same through ptag-runtime ({os.path.basename(cases[base][0][0])})",
            "note": spread,
        }
        entry: dict[str, object] = {"value": round(ratio, 3), "unit": "ratio"}
        if base != "runc_create_help":
            entry["goal_max"] = 1.3
            entry["what"] = f"{base}: ptag-runtime / bare (pass-through, the sh front)"
        else:
            entry["what"] = "runc create --help: through the Python half, for scale (no goal)"
        figures[f"{base}_ratio"] = entry
    if args.json:
        doc = {
            "topic": "runtime",
            "measured": time.strftime("%Y-%m-%d"),
            "machine": f"the build host ({os.cpu_count()} CPUs, Linux {platform.release()}), "
            f"not the VM: {load}",
            "method": (
                f"tools/runtimes/passthrough_bench.py --runs {args.runs} --json "
                f"{args.json}: {args.runs} interleaved rounds (each command once per round, "
                "shuffled), posix_spawn to exit, stdio on /dev/null; medians; "
                f"runc {version(runc)}, crun {version(crun)}, /bin/sh is dash"
            ),
            "figures": figures,
        }
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
