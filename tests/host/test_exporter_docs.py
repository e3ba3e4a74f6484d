"""The monitoring page's configuration, recording rules and queries are what
Prometheus accepts: promtool checks each (a typo in a doc query is a bug too)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "monitoring.rst"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    assert path, "promtool is missing: run tools/setup (Debian package prometheus)"
    return subprocess.run([path, *args], capture_output=True, text=True)


def yaml_blocks() -> list[str]:
    """The ``.. code-block:: yaml`` blocks of the page, dedented."""
    blocks = []
    lines = PAGE.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip() == ".. code-block:: yaml":
            body = []
            for nxt in lines[i + 2 :]:
                if nxt and not nxt.startswith("   "):
                    break
                body.append(nxt[3:])
            blocks.append("\n".join(body).strip() + "\n")
    return blocks


def queries() -> list[str]:
    """The PromQL of the "Questions and queries" section: its indented literals."""
    text = PAGE.read_text()
    section = text.split("Questions and queries\n", 1)[1].split("\n\n\n", 1)[0]
    section = section.split("\nThe counters behave", 1)[0]
    found = re.findall(r"^   ``(.+)``$", section, re.MULTILINE)
    assert len(found) >= 3, found
    return found


def test_scrape_config_is_valid(tmp_path: Path) -> None:
    (config,) = [b for b in yaml_blocks() if "scrape_configs:" in b]
    path = tmp_path / "prometheus.yml"
    path.write_text(config)
    p = promtool("check", "config", "--syntax-only", str(path))
    assert p.returncode == 0, p.stdout + p.stderr


def test_recording_rules_are_valid(tmp_path: Path) -> None:
    (rules,) = [b for b in yaml_blocks() if "groups:" in b]
    assert rules.count("- record:") >= 2
    path = tmp_path / "rules.yml"
    path.write_text(rules)
    p = promtool("check", "rules", str(path))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS: 2 rules found" in p.stdout


def test_every_query_parses(tmp_path: Path) -> None:
    """Each query as the expression of a recording rule: promtool parses it."""
    exprs = queries()
    body = "groups:\n  - name: docs\n    rules:\n" + "".join(
        f"      - record: docs:query{n}\n        expr: '{e}'\n" for n, e in enumerate(exprs)
    )
    path = tmp_path / "queries.yml"
    path.write_text(body)
    p = promtool("check", "rules", str(path))
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in p.stdout


def test_queries_use_only_metrics_the_exporter_serves() -> None:
    from ptag.exporter.collector import PtagCollector, registry_for, render
    from ptag.exporter.groups import Config

    scrape = render(registry_for(PtagCollector(Config()))).decode()
    served = set(re.findall(r"^# TYPE (\S+) ", scrape, re.MULTILINE))
    text = PAGE.read_text()
    used = set(re.findall(r"\b(ptag_[a-z_]+)\b", text))
    # recording rule names (container:ptag_...:rate1m) are not metrics the exporter serves
    used = {u for u in used if not re.search(rf":{u}:", text)}
    assert "ptag_group_cpu_seconds_total" in used and "ptag_untrusted_tags_total" in used
    assert used <= served, used - served
