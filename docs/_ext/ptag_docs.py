"""Sphinx glue for the ptag docs: generated pages and checks that keep the docs honest.

At the start of every build (``builder-inited``) this:

* runs ``tools/extract-kernel-doc``, which copies the kernel series' own
  documentation (``Documentation/userspace-api/ptag.rst``, the ABI file, the uapi
  header) out of ``linux-patch/`` into ``docs/_generated/``, where the kernel ABI
  page includes it: the ABI page cannot drift from the kernel's;
* renders ``docs/perf/*.json`` into ``docs/_generated/perf-*.rst`` (a figure that
  has no measurement yet says so);
* renders tables that live in the CLI's code (``ptag ps`` columns, the OCI hook's
  annotation mapping) into ``docs/_generated/``;
* renders the configuration files ``ptag install`` writes (from
  ``ptag.cli.integrations``) into ``docs/_generated/install/``, which the recipes
  include.

After reading (``env-updated``, on every build) it warns, which
``-W`` turns into a failed build, when:

* a name in ``ptag.__all__`` or ``ptag.keys.__all__`` has no API entry;
* an option of ``ptag``, a ``ptag`` subcommand or ``ptag-exec`` has no
  ``.. option::`` entry under its ``.. program::``;
* a constant of the library differs from the kernel's uapi headers.

It also adds the ``ptag-example`` directive, which shows a file of
``docs/examples/`` (the same file ``docs/examples/check`` runs in the VM) without
the lines that are only there for the checker.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

DOCS = Path(__file__).resolve().parent.parent
REPO = DOCS.parent
GENERATED = DOCS / "_generated"
PERF = DOCS / "perf"

# ---------------------------------------------------------------------------
# helpers


def write_if_changed(path: Path, text: str) -> None:
    """Rewrite ``path`` only when its content changes, so Sphinx rebuilds only what
    depends on it."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def rst_escape(text: str) -> str:
    return re.sub(r"([\\`*_|])", r"\\\1", text)


def list_table(header: list[str], rows: list[list[str]], widths: list[int]) -> str:
    if not rows:  # docutils rejects a table without a body
        return "*No figures in this file.*\n"
    out = [
        ".. list-table::",
        "   :header-rows: 1",
        f"   :widths: {' '.join(str(w) for w in widths)}",
        "",
    ]
    for row in [header, *rows]:
        for i, cell in enumerate(row):
            out.append(("   * - " if i == 0 else "     - ") + (cell or " "))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# the kernel's documentation


def extract_kernel_doc(app: Sphinx) -> None:
    tool = REPO / "tools" / "extract-kernel-doc"
    proc = subprocess.run(
        [sys.executable, str(tool), "-q", "--out", str(GENERATED)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ExtensionError(
            f"tools/extract-kernel-doc failed (exit {proc.returncode}): "
            f"{proc.stderr.strip() or proc.stdout.strip()}"
        )


def uapi_defines() -> dict[str, int]:
    """``#define NAME value`` from the extracted uapi headers."""
    out: dict[str, int] = {}
    for name in ("uapi-ptag.h", "uapi-prctl.h"):
        text = (GENERATED / name).read_text(encoding="utf-8")
        for m in re.finditer(r"^#define\s+(\w+)\s+(.+?)\s*(?:/\*.*)?$", text, re.M):
            expr = m.group(2).replace("ULL", "").replace("UL", "")
            if re.fullmatch(r"[\d\s()<]+", expr):
                out[m.group(1)] = int(eval(expr, {"__builtins__": {}}))  # digits, <<, ()
    return out


# ---------------------------------------------------------------------------
# performance figures: docs/perf/*.json


# Every figure the issues set a goal for (or ask to report), per topic, in order.
# (id, what, unit, goal: (op, value) or None)
TOPICS: dict[str, dict[str, Any]] = {
    "harness": {
        "title": "Build and boot (the harness)",
        "how": "``tools/ktree build debug`` (after emptying ccache for the cold build), then "
        "``time tools/vm run -- true`` and ``time make vm-test``, on the 2-core Debian 12 "
        "machine the project is developed on.",
        "figures": [
            (
                "kernel_cold_build",
                "Cold build of the debug test kernel (empty ccache)",
                "s",
                ("<=", 720),
            ),
            ("kernel_rebuild", "Rebuild after editing only ``kernel/ptag.c``", "s", ("<=", 90)),
            (
                "vm_run_true",
                "``tools/vm run -- true``: boot the debug kernel, run a command",
                "s",
                ("<=", 15),
            ),
            (
                "vm_selftests",
                "The kernel selftests in the VM, with the dmesg and kmemleak scan",
                "s",
                None,
            ),
            ("make_check_warm", "``make check`` on a warm cache", "s", ("<=", 720)),
        ],
    },
    "kernel": {
        "title": "Kernel: memory and clone cost",
        "how": "``tools/perf/kernel-bench``: pahole on the bench and base kernels; fork+exit of a "
        "process with 0 and with 32 tags, the same kernel, in the VM.",
        "figures": [
            (
                "task_struct_without",
                "``sizeof(struct task_struct)``, ``CONFIG_PTAG=n``",
                "bytes",
                None,
            ),
            (
                "task_struct_with",
                "``sizeof(struct task_struct)``, ``CONFIG_PTAG=y``",
                "bytes",
                None,
            ),
            ("fork_exit_0_tags", "fork + exit + wait, parent with 0 tags", "us", None),
            ("fork_exit_32_tags", "fork + exit + wait, parent with 32 tags", "us", None),
            ("fork_exit_ratio", "32 tags / 0 tags", "ratio", ("<=", 1.02)),
        ],
    },
    "library": {
        "title": "Python library",
        "how": "``tools/perf/lib_bench.py`` in the VM on the patched kernel.",
        "figures": [
            (
                "host_import_ms",
                "``import ptag``, host CPU (median, fresh interpreters)",
                "ms",
                ("<=", 30),
            ),
            ("import_ms", "``import ptag``, in the emulated VM", "ms", None),
            ("ptag_get_us", "``ptag.get(key)`` on the caller", "us", None),
            ("prctl_get_name_us", "bare ctypes ``prctl(PR_GET_NAME)``, for comparison", "us", None),
            ("get_ratio", "``ptag.get(key)`` / ``prctl(PR_GET_NAME)``", "ratio", ("<=", 3)),
        ],
    },
    "cli": {
        "title": "ptag ps over 2,000 processes",
        "how": "``tools/perf/lib_bench.py --procs 2000`` in the VM: median of the runs.",
        "figures": [
            ("processes", "processes scanned", "count", None),
            ("process_iter_ms", "``ptag.process_iter()`` over every process", "ms", None),
            ("ptag_ps_ms", "``ptag ps``", "ms", None),
            ("ps_ms", "procps ``ps -eo pid,ppid,comm,cgroup``", "ms", None),
            ("ptag_ps_ratio", "``ptag ps`` / procps ``ps``", "ratio", ("<=", 1.0)),
            ("host_processes", "host CPU: processes scanned", "count", None),
            (
                "host_ptag_ps_ratio",
                "host CPU: ``ptag ps`` / procps ``ps`` (a kernel without ptags)",
                "ratio",
                ("<=", 1.0),
            ),
        ],
    },
}


def from_bench_lib(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Map ``tools/perf/lib_bench.py --json`` output onto the library and cli topics."""
    env = f"Python {doc.get('python', '?')}, kernel {doc.get('kernel', '?')}"
    imp, get, scan = doc.get("import", {}), doc.get("get", {}), doc.get("scan", {})
    lib: dict[str, Any] = {"environment": env, "figures": {}}
    if "import_ms" in imp:
        lib["figures"]["import_ms"] = {"value": imp["import_ms"]}
    for k_out, k_in in (
        ("ptag_get_us", "ptag_get_us"),
        ("prctl_get_name_us", "prctl_get_name_us"),
        ("get_ratio", "ratio"),
    ):
        if k_in in get:
            lib["figures"][k_out] = {"value": get[k_in]}
    cli: dict[str, Any] = {"environment": env, "figures": {}}
    for k in ("processes", "process_iter_ms", "ptag_ps_ms", "ps_ms"):
        if k in scan:
            cli["figures"][k] = {"value": scan[k]}
    if "ptag_ps_ms" in scan and scan.get("ps_ms"):
        cli["figures"]["ptag_ps_ratio"] = {"value": scan["ptag_ps_ms"] / scan["ps_ms"]}
    # the same script run on the host (real CPU, usually a kernel without ptags)
    host = doc.get("host", {})
    h_imp, h_scan = host.get("import", {}), host.get("scan", {})
    if "import_ms" in h_imp:
        lib["figures"]["host_import_ms"] = {"value": h_imp["import_ms"]}
    if "processes" in h_scan:
        cli["figures"]["host_processes"] = {"value": h_scan["processes"]}
    if "ptag_ps_ms" in h_scan and h_scan.get("ps_ms"):
        cli["figures"]["host_ptag_ps_ratio"] = {
            "value": h_scan["ptag_ps_ms"] / h_scan["ps_ms"],
            "note": f"medians {h_scan['ptag_ps_ms']:.0f} / {h_scan['ps_ms']:.0f} ms",
        }
    for d in (lib, cli):
        for k in ("measured", "machine"):
            if k in doc:
                d[k] = doc[k]
    return {"library": lib, "cli": cli}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def from_kernel_bench(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Map ``tools/perf/kernel-bench``'s ``docs/perf/bench.json`` onto the kernel topic: the
    known figures by id, every other A/B ratio as a row of its own."""
    figs: dict[str, Any] = {}
    src = doc.get("figures", {})
    for name, f in src.items():
        if not isinstance(f, dict) or _num(f.get("ratio_median")) is None:
            continue
        a, b, unit = f.get("a", "A"), f.get("b", "B"), str(f.get("unit", ""))
        row: dict[str, Any] = {
            "what": f"{name}: {a} / {b}",
            "value": f["ratio_median"],
            "unit": "ratio",
        }
        if _num(f.get("target")) is not None:
            row["goal_max"] = f["target"]
        if _num(f.get("a_median")) is not None and _num(f.get("b_median")) is not None:
            row["note"] = f"medians {f['a_median']:g} / {f['b_median']:g} {unit}".rstrip()
        figs["fork_exit_ratio" if name == "fork_exit" else f"bench_{name}"] = row
        if name == "fork_exit" and "note" in row:  # a: the parent with 32 tags, b: none
            figs["fork_exit_32_tags"] = {"value": f["a_median"], "unit": unit}
            figs["fork_exit_0_tags"] = {"value": f["b_median"], "unit": unit}
    pv = src.get("patched_vs_base_fork_exit")
    if isinstance(pv, dict) and _num(pv.get("ratio_getppid_normalised")) is not None:
        row = {
            "what": "fork+exit, patched kernel (no tags) / pristine 6.12, normalised",
            "value": pv["ratio_getppid_normalised"],
            "unit": "ratio",
        }
        if _num(pv.get("target")) is not None:
            row["goal_max"] = pv["target"]
        _across_boots(row, pv)
        figs["patched_vs_base"] = row
    figs.update(_icount_rows(src.get("icount")))
    ts = src.get("task_struct")
    if isinstance(ts, dict):
        sizes = ts.get("pahole_size_bytes") or {}
        if _num(sizes.get("base")) is not None:
            figs["task_struct_without"] = {"value": sizes["base"], "unit": "bytes"}
        if _num(sizes.get("bench")) is not None:
            figs["task_struct_with"] = {"value": sizes["bench"], "unit": "bytes"}
    out: dict[str, Any] = {"figures": figs}
    if doc.get("date"):
        out["measured"] = doc["date"]
    if doc.get("vm"):
        out["machine"] = doc["vm"]
    if doc.get("method"):
        out["method"] = doc["method"]
    return {"kernel": out}


def _pair(v: Any) -> tuple[float, float] | None:
    """``[low, high]`` as two floats, or None."""
    if isinstance(v, list) and len(v) == 2:
        lo, hi = _num(v[0]), _num(v[1])
        if lo is not None and hi is not None:
            return lo, hi
    return None


def _across_boots(row: dict[str, Any], f: dict[str, Any]) -> None:
    """A comparison of two kernels booted separately: note how far boots of one kernel
    differ, and give the range of the ratio over every pairing of boots, which
    decides the goal (see render_topic)."""
    notes = [row["note"]] if row.get("note") else []
    if _num(f.get("per_boot_spread")) is not None:
        notes.append(f"boots of one kernel differ by up to {f['per_boot_spread'] * 100:.1f}%")
    rng = _pair(f.get("pairwise_ratio_range"))
    if rng is not None:
        notes.append(f"every pairing of boots gives {rng[0]:.3f}-{rng[1]:.3f}")
        row["range"] = list(rng)
    if notes:
        row["note"] = "; ".join(notes)


def _icount_rows(ic: Any) -> dict[str, Any]:
    """The instruction-count figures (``tools/perf/kernel-bench``'s ``icount`` section): the
    same A/B ratios counted in instructions, which do not drift with the host."""
    figs: dict[str, Any] = {}
    if not isinstance(ic, dict):
        return figs
    for name, f in ic.items():
        if not isinstance(f, dict):
            continue
        value = _num(f.get("ratio_median", f.get("ratio")))
        if value is None:
            continue
        row: dict[str, Any] = {
            "what": f"instructions: {f.get('a', 'A')} / {f.get('b', 'B')}",
            "value": value,
            "unit": "ratio",
        }
        if _num(f.get("target")) is not None:
            row["goal_max"] = f["target"]
        if _num(f.get("a_median")) is not None and _num(f.get("b_median")) is not None:
            row["note"] = f"{f['a_median']:.0f} / {f['b_median']:.0f} instructions per operation"
        _across_boots(row, f)
        figs[f"icount_{name}"] = row
    return figs


def from_bench_harness(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Map ``tools/perf/harness-bench`` output onto the harness topic."""
    figs: dict[str, Any] = {}
    for fid, key in (
        ("kernel_rebuild", "rebuild_s"),
        ("vm_run_true", "boot_true_s"),
        ("kernel_cold_build", "cold_build_s"),
    ):
        if _num(doc.get(key)) is not None:
            figs[fid] = {"value": doc[key], "unit": "s"}
    if "vm_run_true" in figs and doc.get("vm_accel"):
        figs["vm_run_true"]["note"] = f"{doc['vm_accel']}, median of 3"
    out: dict[str, Any] = {"figures": figs}
    if doc.get("date"):
        out["measured"] = doc["date"]
    if doc.get("host"):
        out["machine"] = doc["host"]
    return {"harness": out}


def load_perf() -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Topic -> {measured, environment, figures: {id: {...}}}, and problems found."""
    data: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for path in sorted(PERF.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name}: not valid JSON: {exc}")
            continue
        if not isinstance(doc, dict):
            problems.append(f"{path.name}: not a JSON object")
            continue
        if {"import", "get", "scan"} <= doc.keys():
            parts = from_bench_lib(doc)
        elif "runs" in doc and isinstance(doc.get("figures"), dict):
            parts = from_kernel_bench(doc)
        elif "rebuild_s" in doc or "boot_true_s" in doc:
            parts = from_bench_harness(doc)
        else:
            parts = {str(doc.get("topic", path.stem)): doc}
        for topic, part in parts.items():
            figs = part.get("figures", {})
            if not isinstance(figs, dict):
                problems.append(f"{path.name}: 'figures' must be an object")
                continue
            slot = data.setdefault(topic, {"figures": {}, "sources": [], "_when": {}})
            slot["sources"].append(path.name)
            when = str(part.get("measured", ""))  # ISO dates: the newest file wins
            if when >= str(slot.get("measured", "")):
                for k in ("measured", "environment", "machine", "method"):
                    if k in part:
                        slot[k] = part[k]
            for fid, fig in figs.items():
                if not isinstance(fig, dict) or "value" not in fig:
                    problems.append(f"{path.name}: figure '{fid}' needs a 'value'")
                    continue
                if when >= slot["_when"].get(fid, ""):
                    slot["figures"][fid] = fig
                    slot["_when"][fid] = when
    return data, problems


def fmt_value(value: float, unit: str, approx: bool = False) -> str:
    pre = "about " if approx else ""
    if unit == "s":
        if value >= 60:
            m, s = divmod(round(value), 60)
            return f"{pre}{m} min {s} s" if s else f"{pre}{m} min"
        return f"{pre}{value:g} s"
    if unit == "ratio":
        return f"{pre}{value:.3f}\u00d7"
    if unit in ("count", "bytes"):
        return f"{pre}{value:,.0f}" + (" bytes" if unit == "bytes" else "")
    if unit in ("ms", "us", "ns"):
        shown = f"{value:.1f}" if value >= 10 else f"{value:.2f}"
        return f"{pre}{shown} {unit.replace('us', 'µs')}"
    return f"{pre}{value:g} {unit}"


def render_topic(topic: str, spec: dict[str, Any], slot: dict[str, Any] | None) -> str:
    figs = (slot or {}).get("figures", {})
    lines: list[str] = []
    rows: list[list[str]] = []
    known = {fid for fid, *_ in spec["figures"]}
    entries = [(fid, what, unit, goal, figs.get(fid)) for fid, what, unit, goal in spec["figures"]]
    for fid, fig in figs.items():
        if fid not in known:
            what = rst_escape(str(fig.get("what", fid)))
            goal = ("<=", fig["goal_max"]) if _num(fig.get("goal_max")) is not None else None
            entries.append((fid, what, str(fig.get("unit", "")), goal, fig))
    for _fid, what, unit, goal, fig in entries:
        if goal is not None:
            shown = f"{goal[1]:g}\u00d7" if unit == "ratio" else fmt_value(goal[1], unit)
            goal_text = f"{'≤' if goal[0] == '<=' else '≥'} {shown}"
        else:
            goal_text = "—"
        if fig is None or fig.get("value") is None:
            value_text, verdict = "*not measured yet*", ""
        else:
            v = float(fig["value"])
            value_text = fmt_value(v, str(fig.get("unit", unit)), bool(fig.get("approx")))
            verdict = ""
            if goal is not None:
                ok = v <= goal[1] if goal[0] == "<=" else v >= goal[1]
                verdict = "met" if ok else "**not met**"
                # a figure measured across boots is decided only when every pairing of
                # boots falls on the same side of the goal
                rng = _pair(fig.get("range"))
                if rng is not None:
                    lo, hi = rng
                    ok_all = hi <= goal[1] if goal[0] == "<=" else lo >= goal[1]
                    bad_all = lo > goal[1] if goal[0] == "<=" else hi < goal[1]
                    verdict = "met" if ok_all else "**not met**" if bad_all else "not resolved"
            if fig.get("note"):
                value_text += f" ({rst_escape(str(fig['note']))})"
        rows.append([what, value_text, goal_text, verdict])
    if slot is None:
        lines.append(
            ".. note::\n\n   **Not measured yet.** No file in ``docs/perf/`` holds these "
            "figures; the table lists what will be measured and the goals.\n"
        )
    else:
        meta = []
        if slot.get("measured"):
            meta.append(rst_escape(str(slot["measured"])))
        if slot.get("machine"):
            meta.append(rst_escape(str(slot["machine"])))
        if slot.get("environment"):
            meta.append(rst_escape(str(slot["environment"])))
        src = ", ".join(f"``docs/perf/{s}``" for s in slot["sources"])
        said = "; ".join(meta).rstrip(".")
        lines.append(f"{'Measured ' + said + '. ' if meta else ''}Source: {src}.\n")
    lines.append(list_table(["Figure", "Measured", "Goal", ""], rows, [42, 30, 16, 12]))
    how = rst_escape(str(slot["method"])) if slot and slot.get("method") else spec["how"]
    lines.append(f"How: {how}\n")
    return "\n".join(lines)


def generate_perf(app: Sphinx) -> None:
    data, problems = load_perf()
    for p in problems:
        logger.warning("docs/perf: %s", p, type="ptag", subtype="perf")
    everything = []
    for topic, spec in TOPICS.items():
        body = render_topic(topic, spec, data.get(topic))
        write_if_changed(GENERATED / f"perf-{topic}.rst", body)
        title = spec["title"]
        everything.append(f".. _perf-{topic}:\n\n{title}\n{'-' * len(title)}\n\n{body}")
    for topic in sorted(set(data) - set(TOPICS)):
        spec = {
            "title": topic,
            "how": str(data[topic].get("method", "see the file.")),
            "figures": [],
        }
        body = render_topic(topic, spec, data[topic])
        everything.append(f"{topic}\n{'-' * len(topic)}\n\n{body}")
    write_if_changed(GENERATED / "perf-all.rst", "\n".join(everything))


# ---------------------------------------------------------------------------
# tables that live in the CLI's code


def generate_cli_tables(app: Sphinx) -> None:
    from ptag.cli import oci_hook, ps

    # Definition lists, not tables: they read well in the man pages too.
    items = [
        (f"``{c.name}`` ({rst_escape(c.header)})", rst_escape(c.help)) for c in ps.COLUMNS.values()
    ]
    items.append(("``tag:KEY`` (KEY)", "the value of tag KEY (empty when the process lacks it)"))
    default = ",".join(ps.DEFAULT_COLUMNS)
    write_if_changed(
        GENERATED / "ps-columns.rst",
        "".join(f"{term}\n   {text}\n" for term, text in items)
        + f"\nThe default is ``-o {default}``.\n",
    )
    by_key: dict[str, list[str]] = {}
    for annotation, key in oci_hook.ANNOTATION_KEYS:
        by_key.setdefault(key, []).append(f"``{annotation}``")
    items = [("``container.id``", 'the state\'s ``"id"``')]
    items.append(("``container.runtime``", ":option:`--runtime <ptag oci-hook --runtime>` NAME"))
    items += [(f"``{k}``", "annotation " + ", or ".join(v)) for k, v in by_key.items()]
    items.append(
        ("*KEY*", f"annotation *PREFIX*\\ *KEY* (default *PREFIX*: ``{oci_hook.DEFAULT_PREFIX}``)")
    )
    write_if_changed(
        GENERATED / "oci-annotations.rst", "".join(f"{term}\n   {text}\n" for term, text in items)
    )


# ---------------------------------------------------------------------------
# the integrations' configurations: what ``ptag install`` writes


def install_configs() -> dict[str, str]:
    """File name in ``docs/_generated/install/`` -> text, rendered by
    ``ptag.cli.integrations`` (the module ``ptag install`` writes from) with the
    documentation's paths: the recipes include these, so they cannot drift."""
    from ptag.cli import integrations as i

    p = i.DOC_PATHS
    billing = [("", "setpriv --reuid=billing --regid=billing --init-groups /usr/bin/billing-server")]
    return {
        "docker-daemon.json": i.docker_fragment(p, default=False),
        "docker-daemon-default.json": i.docker_fragment(p, default=True),
        "podman-ptag.conf": i.podman_conf(p, default=False),
        "podman-hook.json": i.oci_hook(p, "podman"),
        "cri-o-ptag.conf": i.crio_conf(p, default=False),
        "cri-o-hook.json": i.oci_hook(p, "cri-o"),
        "containerd-config.toml": i.containerd_toml(p),
        "ptag-lxc-hook": i.lxc_hook(p),
        "lxc-ptag.conf": i.lxc_conf(),
        "systemd-zz-ptag.conf": i.systemd_dropin(
            "billing.service", billing, [("service.name", "%n"), ("team", "payments")], p
        ),
    }


def generate_install_configs(app: Sphinx) -> None:
    for name, text in install_configs().items():
        write_if_changed(GENERATED / "install" / name, text)


# ---------------------------------------------------------------------------
# ptag-example: an example of docs/examples/, as docs/examples/check runs it


class PtagExample(SphinxDirective):
    """``.. ptag-example:: examples/NAME.console`` (or ``.py``) shows an example that
    ``docs/examples/check`` runs in the VM, without what is only there for the
    checker: a ``.console`` file's leading comments and hidden ``#$`` commands, a
    ``.py`` file's ``# check:`` lines."""

    required_arguments = 1
    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {"caption": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        rel, path = self.env.relfn2path(self.arguments[0], self.env.docname)
        self.env.note_dependency(rel)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise self.error(f"cannot read {rel}: {exc}") from None
        shown: list[str] = []
        if path.endswith(".console"):
            language, started, hidden = "console", False, False
            for line in text.rstrip("\n").split("\n"):
                if line.startswith("$ "):
                    started, hidden = True, False
                elif line.startswith("#$"):
                    hidden = True
                    continue
                elif not line.startswith("> "):
                    hidden = False
                if started and not hidden:
                    shown.append(line)
        else:
            language = "python"
            shown = [ln for ln in text.rstrip("\n").split("\n") if not ln.startswith("# check:")]
        code = "\n".join(shown)
        block = nodes.literal_block(code, code, language=language)
        self.set_source_info(block)
        if "caption" not in self.options:
            return [block]
        caption = self.options["caption"]
        container = nodes.container("", literal_block=True, classes=["literal-block-wrapper"])
        container += nodes.caption(caption, caption)
        container += block
        return [container]


# ---------------------------------------------------------------------------
# consistency checks


def check_api(app: Sphinx, env: Any) -> None:
    import ptag
    import ptag.keys

    py = env.get_domain("py")
    documented = set(py.objects) | set(py.modules)
    names = [f"ptag.{n}" for n in ptag.__all__] + [f"ptag.keys.{n}" for n in ptag.keys.__all__]
    for name in names:
        if name not in documented:
            logger.warning(
                "the public name %s is not documented (docs/api.rst)",
                name,
                type="ptag",
                subtype="api",
            )


def cli_options() -> dict[str, set[str]]:
    """program -> option strings, from the CLI's own parsers."""
    import argparse

    from ptag.cli import exec as ptag_exec
    from ptag.cli import main

    out: dict[str, set[str]] = {}

    def walk(parser: argparse.ArgumentParser, prog: str) -> None:
        opts = out.setdefault(prog, set())
        for action in parser._actions:
            opts.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{prog} {name}")

    walk(main.build_parser(), "ptag")
    found: set[str] = set()
    for short, long in re.findall(r"(?m)^\s+(?:(-\w), )?(--[a-z-]+)", ptag_exec.USAGE):
        found.update(x for x in (short, long) if x)
    out["ptag-exec"] = found
    return out


# Accepted by every ptag subcommand; documented once, under the program "ptag".
COMMON = {"-h", "--help", "-V", "--version"}


def check_cli(app: Sphinx, env: Any) -> None:
    std = env.get_domain("std")
    have: dict[str, set[str]] = {}
    for prog, opt in std.progoptions:
        have.setdefault(prog or "", set()).add(opt)
    for prog, opts in cli_options().items():
        key = prog.replace(" ", "-")  # .. program:: ptag get  is stored as "ptag-get"
        for opt in sorted(opts):
            if opt in have.get(key, set()):
                continue
            if prog.startswith("ptag ") and opt in COMMON and opt in have.get("ptag", set()):
                continue
            logger.warning(
                "option %s of '%s' is not documented (.. program:: %s / .. option:: %s)",
                opt,
                prog,
                prog,
                opt,
                type="ptag",
                subtype="cli",
            )


def check_constants(app: Sphinx, env: Any) -> None:
    import ptag
    from ptag import _abi

    kernel = uapi_defines()
    pairs = {
        "PR_SET_PTAG": ptag.PR_SET_PTAG,
        "PR_GET_PTAG": ptag.PR_GET_PTAG,
        "PTAG_MAX_TAGS": ptag.MAX_TAGS,
        "PTAG_KEY_MAX": ptag.KEY_MAX,
        "PTAG_VALUE_MAX": ptag.VALUE_MAX,
        "PTAG_F_PIDFD": _abi.PTAG_F_PIDFD,
        "PTAG_ARGS_SIZE_VER0": _abi.ARGS_SIZE_VER0,
    }
    for name, lib_value in pairs.items():
        if kernel.get(name) != lib_value:
            logger.warning(
                "%s is %s in the kernel series but %s in the library",
                name,
                kernel.get(name),
                lib_value,
                type="ptag",
                subtype="abi",
            )


def check_consistency(app: Sphinx, env: Any) -> None:
    check_api(app, env)
    check_cli(app, env)
    check_constants(app, env)


def generate_abi_glance(app: Sphinx) -> None:
    d = uapi_defines()
    try:
        rows = [
            [
                f"``PR_SET_PTAG`` = {d['PR_SET_PTAG']}, ``PR_GET_PTAG`` = {d['PR_GET_PTAG']}",
                "``prctl(option, &args, sizeof(args), 0, 0)``; ``EINVAL`` on a kernel without "
                "``CONFIG_PTAG``. The numbers may change when the series is rebased.",
            ],
            [
                "``struct ptag_args``",
                f"{d['PTAG_ARGS_SIZE_VER0']} bytes (``PTAG_ARGS_SIZE_VER0``), extensible: a "
                "larger struct from a newer program is accepted when the tail this kernel "
                "does not know is zero.",
            ],
            [
                f"``PTAG_F_PIDFD`` = {d['PTAG_F_PIDFD']:#x}",
                "act on the process of ``args.pidfd`` instead of the caller.",
            ],
            [
                "``PTAG_MAX_TAGS``, ``PTAG_KEY_MAX``, ``PTAG_VALUE_MAX``",
                f"{d['PTAG_MAX_TAGS']} tags per process, {d['PTAG_KEY_MAX']}-byte keys, "
                f"{d['PTAG_VALUE_MAX']}-byte values.",
            ],
            [
                "``/proc/<pid>/ptags``",
                "``<owner> <key>=<value>`` per line, oldest first; mode 0444.",
            ],
        ]
    except KeyError as exc:
        raise ExtensionError(f"the extracted uapi headers lack {exc}") from None
    text = list_table(["Name", "Meaning"], rows, [40, 60])
    write_if_changed(GENERATED / "abi-glance.rst", text)


CONSTANTS = (
    ("PR_SET_PTAG", "PR_SET_PTAG", "The ``prctl`` option that adds a tag."),
    ("PR_GET_PTAG", "PR_GET_PTAG", "The ``prctl`` option that reads a tag or lists the keys."),
    ("MAX_TAGS", "PTAG_MAX_TAGS", "At most this many tags on one process."),
    ("KEY_MAX", "PTAG_KEY_MAX", "The longest key, in bytes."),
    ("VALUE_MAX", "PTAG_VALUE_MAX", "The longest value, in bytes."),
)


def generate_api_constants(app: Sphinx) -> None:
    """``.. data::`` entries with the library's live values (autodata would show
    the docstring of ``int``)."""
    import ptag

    out = []
    for name, kernel_name, text in CONSTANTS:
        value = getattr(ptag, name)
        out.append(
            f".. data:: {name}\n   :type: int\n   :value: {value}\n\n"
            f"   {text} ``{kernel_name}`` in the uapi headers.\n"
        )
    write_if_changed(GENERATED / "api-constants.rst", "\n".join(out))


def generate_well_known_keys(app: Sphinx) -> None:
    """The keys of :mod:`ptag.keys` with their doc comments, as a definition list."""
    from sphinx.pycode import ModuleAnalyzer

    import ptag.keys

    docs = ModuleAnalyzer.for_module("ptag.keys").find_attr_docs()
    names = {getattr(ptag.keys, n): n for n in ptag.keys.__all__ if n != "WELL_KNOWN"}
    out = []
    for key in ptag.keys.WELL_KNOWN:
        name = names[key]
        text = " ".join(" ".join(docs.get(("", name), [])).split()) or "(undocumented)"
        out.append(f"``{key}`` (:data:`ptag.keys.{name}`)\n   {text}\n")
    write_if_changed(GENERATED / "well-known-keys.rst", "".join(out))


def builder_inited(app: Sphinx) -> None:
    extract_kernel_doc(app)
    generate_abi_glance(app)
    generate_perf(app)
    generate_cli_tables(app)
    generate_install_configs(app)
    generate_api_constants(app)
    generate_well_known_keys(app)


def man_plain_references(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """In man pages, a link to another page cannot be followed and Sphinx renders it
    as ``Title <>``: show its text only."""
    if app.builder.name != "man":
        return
    for ref in list(doctree.findall(nodes.reference)):
        if ref.get("refuri", "").startswith(("http:", "https:", "mailto:", "ftp:")):
            continue
        ref.replace_self(nodes.inline("", "", *ref.children))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-resolved", man_plain_references)
    app.connect("builder-inited", builder_inited)
    app.connect("env-updated", check_consistency)
    app.add_directive("ptag-example", PtagExample)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
