#!/usr/bin/env python3
"""ptag-runtime's create and exec against the bare runtime's, in the VM.

    tools/vm run -- tools/runtimes/vm_bench.py [--runs N] [--json FILE]

For crun and runc, N interleaved rounds (shuffled order) of, each timed from spawn
to exit:

- ``RUNTIME create --bundle B ID`` (then ``delete --force ID``, not timed), bare
  and through ptag-runtime (which reads config.json and tags itself first);
- ``RUNTIME exec ID true`` into a running container created through ptag-runtime,
  bare and through ptag-runtime (which runs ``state ID`` and copies the init's
  tags first).

Needs the patched kernel and root (the VM).  Prints medians and their ratios;
``--json`` writes a docs/perf topic file (``runtime-vm``).
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
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FRONT = str(REPO / "libptag" / "bin" / "ptag-runtime")
sys.path.insert(0, str(REPO / "tests" / "runtimes"))

import bundle  # noqa: E402  (tests/runtimes/bundle.py)
import engines  # noqa: E402  (tests/runtimes/engines.py)


def timed(argv: list[str]) -> float:
    """Seconds from spawn to exit; output to /dev/null, not a pipe: a created
    container's init keeps the runtime's stdio open until it is deleted."""
    t0 = time.perf_counter()
    p = subprocess.run(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    t1 = time.perf_counter()
    if p.returncode != 0:
        raise SystemExit(f"vm_bench: {argv} failed with status {p.returncode}")
    return t1 - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="rounds (default 7)")
    ap.add_argument("--kernel", default="debug", help="the kernel's name, for the record")
    ap.add_argument("--json", metavar="FILE", help="write a docs/perf topic file")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ptag-vm-bench."))
    results: dict[str, list[float]] = {}
    runtimes = [r for r in ("crun", "runc") if shutil.which(r)]
    n = 0
    try:
        b = bundle.make_bundle(tmp / "bundle", ["sleep", "3600"], readonly=True)
        for rt in runtimes:
            root = str(tmp / f"{rt}-root")
            bare = [rt, "--root", root]
            wrapped = [FRONT, f"--ptag-runtime={rt}", "--root", root]
            target = f"target-{rt}"
            subprocess.run(
                [*wrapped, "run", "-d", "--bundle", str(b), target],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name in ("create", "create_wrapped", "exec", "exec_wrapped"):
                results[f"{rt}_{name}"] = []
            rng = random.Random(13)
            for _ in range(args.runs):
                order = ["create", "create_wrapped", "exec", "exec_wrapped"]
                rng.shuffle(order)
                for name in order:
                    cmd = wrapped if name.endswith("_wrapped") else bare
                    if name.startswith("create"):
                        n += 1
                        cid = f"c{n}"
                        results[f"{rt}_{name}"].append(
                            timed([*cmd, "create", "--bundle", str(b), cid])
                        )
                        subprocess.run([*bare, "delete", "--force", cid], check=True)
                    else:
                        results[f"{rt}_{name}"].append(timed([*cmd, "exec", target, "true"]))
            subprocess.run([*bare, "delete", "--force", target], check=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    figures: dict[str, dict[str, object]] = {}
    print(f"{'':16} {'bare s':>8} {'wrapped s':>10} {'ratio':>6}  (median of {args.runs})")
    for rt in runtimes:
        for op in ("create", "exec"):
            bare_s = statistics.median(results[f"{rt}_{op}"])
            wrapped_s = statistics.median(results[f"{rt}_{op}_wrapped"])
            print(f"{rt + ' ' + op:16} {bare_s:8.3f} {wrapped_s:10.3f} {wrapped_s / bare_s:6.2f}")
            figures[f"{rt}_{op}_s"] = {"value": round(bare_s, 3), "unit": "s", "what": f"{rt} {op}"}
            figures[f"{rt}_{op}_wrapped_s"] = {
                "value": round(wrapped_s, 3),
                "unit": "s",
                "what": f"{rt} {op} through ptag-runtime",
            }
            figures[f"{rt}_{op}_ratio"] = {
                "value": round(wrapped_s / bare_s, 2),
                "unit": "ratio",
                "what": f"{rt} {op}: ptag-runtime / bare",
            }
    if args.json:
        doc = {
            "topic": "runtime-vm",
            "measured": time.strftime("%Y-%m-%d"),
            "machine": f"the test VM under TCG, Linux {platform.release()} ({args.kernel} kernel), "
            "2 vCPUs, on a 2-core host",
            "python": engines.ptag_runtime_python(),
            "method": f"tools/vm run -- tools/runtimes/vm_bench.py --runs {args.runs} --json "
            f"{args.json}: interleaved, shuffled rounds, spawn to exit, medians; a busybox "
            "bundle from crun/runc spec; exec into a container made through ptag-runtime",
            "figures": figures,
        }
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
