#!/usr/bin/env python3
"""Draw the docs' picture of CPU by container from a real run's series.

Reads the JSON that tests/vm/test_exporter_prometheus.py saves (the raw samples of
``ptag_group_cpu_seconds_total`` per container and mode, as Prometheus's HTTP API
returned them) and writes an SVG: for each container, the CPU it used between two
scrapes divided by the time between them (cores), the same as PromQL's ``irate()``.
Plain string formatting, no plotting library.

    tools/perf/exporter_svg.py .work/vm-out/exporter-cpu.json docs/perf/exporter-cpu.svg
"""

from __future__ import annotations

import json
import sys
from html import escape
from typing import Any

W, H = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 60, 180, 36, 44
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def rates(record: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """{container: [(seconds since the first sample, cores)]}: user + system."""
    totals: dict[str, dict[float, float]] = {}
    for series in record["result"]:
        name = series["metric"]["container_id"]
        acc = totals.setdefault(name, {})
        for t, v in series["values"]:
            acc[float(t)] = acc.get(float(t), 0.0) + float(v)
    start = min(t for acc in totals.values() for t in acc)
    out: dict[str, list[tuple[float, float]]] = {}
    for name, acc in sorted(totals.items()):
        ts = sorted(acc)
        out[name] = [(b - start, max(0.0, (acc[b] - acc[a]) / (b - a))) for a, b in zip(ts, ts[1:])]
    return out


def svg(series: dict[str, list[tuple[float, float]]], title: str) -> str:
    xmax = max(t for points in series.values() for t, _ in points)
    ymax = max(0.1, max(v for points in series.values() for _, v in points))
    ymax = -(-ymax * 10 // 1) / 10  # round up to a tenth of a core
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + t / xmax * pw

    def y(v: float) -> float:
        return TOP + ph - v / ymax * ph

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{LEFT}" y="20" font-size="14">{escape(title)}</text>',
    ]
    for i in range(5):
        v = ymax * i / 4
        parts.append(
            f'<line x1="{LEFT}" y1="{y(v):.1f}" x2="{LEFT + pw}" y2="{y(v):.1f}" stroke="#ddd"/>'
        )
        parts.append(f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    step = 10 if xmax <= 120 else 30
    t = 0.0
    while t <= xmax:
        parts.append(
            f'<text x="{x(t):.1f}" y="{TOP + ph + 16}" text-anchor="middle">{t:.0f}</text>'
        )
        t += step
    parts.append(f'<text x="{LEFT + pw / 2}" y="{H - 8}" text-anchor="middle">seconds</text>')
    parts.append(
        f'<text x="14" y="{TOP + ph / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + ph / 2})">CPU (cores)</text>'
    )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + ph}" x2="{LEFT + pw}" y2="{TOP + ph}" stroke="black"/>'
    )
    for n, (name, points) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        # a step per scrape interval: the rate holds between the two samples
        d = []
        prev = 0.0
        for t, v in points:
            d.append(f"{x(prev):.1f},{y(v):.1f} {x(t):.1f},{y(v):.1f}")
            prev = t
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(d)}"/>'
        )
        ly = TOP + 14 + 20 * n
        parts.append(
            f'<line x1="{W - RIGHT + 16}" y1="{ly - 4}" x2="{W - RIGHT + 40}" y2="{ly - 4}" '
            f'stroke="{colour}" stroke-width="3"/>'
        )
        parts.append(f'<text x="{W - RIGHT + 46}" y="{ly}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: exporter_svg.py SERIES.json OUT.svg", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        record = json.load(f)
    title = "CPU by container (ptag_group_cpu_seconds_total, per scrape)"
    with open(argv[1], "w") as f:
        f.write(svg(rates(record), title))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
