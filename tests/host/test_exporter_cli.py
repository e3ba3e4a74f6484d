"""``ptag exporter`` as a user runs it: options, exit statuses, one-line errors,
the three outputs (--once, --textfile, --listen), and the missing extra."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from cli_run import ROOT, no_ptags, one_line, run_module
from prometheus_client.parser import text_string_to_metric_families

from ptag.exporter import textfile


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_module("ptag.cli.main", "exporter", *args)


def env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT / "libptag"), LC_ALL="C.UTF-8")


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "one of the arguments --listen --textfile --once is required"),
        (("--once", "--textfile", "x"), "not allowed with argument"),
        (("--once", "--label", ""), "invalid --label '': empty key"),
        (("--once", "--label", "a b"), "invalid --label 'a b'"),
        (("--once", "--label", "k=1x"), "invalid label name '1x'"),
        (("--once", "--label", "k=mode"), "exporter's own metrics"),
        (("--once", "--label", "a.b", "--label", "a-b"), "both map to label 'a_b'"),
        (("--once", "--label", "a", "--label", "a=b"), "tag key 'a' given twice"),
        (("--once", "--trust-owner", "no-such-user-here"), "no such user"),
        (("--once", "--trust-owner", "4294967295"), "invalid --trust-owner"),
        (("--once", "--retention", "-1"), "invalid --retention '-1'"),
        (("--once", "--retention", "soon"), "invalid --retention 'soon'"),
        (("--once", "--retention", "nan"), "invalid --retention 'nan'"),
        (("--listen", "9868"), "invalid --listen '9868'"),
        (("--listen", "::1:9868"), "[ADDR]:PORT"),
        (("--listen", "localhost:http"), "invalid --listen"),
        (("--listen", "127.0.0.1:65536"), "invalid --listen"),
        (("--once", "--bogus"), "unrecognized arguments: --bogus"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    p = run(*args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    line = one_line(p.stderr)
    assert line.startswith("ptag: ")
    assert message in line, line
    assert "--help' for more information" in line
    assert p.stdout == ""


def test_help_documents_exit_statuses_and_the_label_rule() -> None:
    p = run("--help")
    assert p.returncode == 0 and p.stderr == ""
    assert "Exit status:" in p.stdout and "container.id -> container_id" in p.stdout
    for option in ("--listen", "--textfile", "--once", "--label", "--trust-owner", "--retention"):
        assert option in p.stdout


def test_help_imports_neither_prometheus_client_nor_other_commands() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from ptag.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main.main(['exporter', '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env(), capture_output=True, text=True, check=True
    ).stdout
    loaded = set(out.split())
    assert "ptag.cli.exporter" in loaded
    for name in (
        "prometheus_client",
        "ptag.exporter.collector",
        "ptag.cli.ps",
        "ptag.cli.oci_hook",
        "ctypes",
        "typing",
        "shutil",
    ):
        assert name not in loaded, name


def test_missing_prometheus_client_says_how_to_install_it() -> None:
    """``python -S`` leaves site-packages (and prometheus_client) out."""
    p = subprocess.run(
        [sys.executable, "-S", "-m", "ptag.cli.main", "exporter", "--once"],
        env=env(),
        capture_output=True,
        text=True,
    )
    assert p.returncode == 1
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert "pip install 'libptag[exporter]'" in lines[-1]
    assert lines[-1].startswith("ptag: ") and "Traceback" not in p.stderr
    # the only other line is the kernel warning, where the kernel lacks ptags
    assert len(lines) <= 2


def promtool_ok(text: str) -> None:
    path = shutil.which("promtool")
    assert path, "promtool is missing: run tools/setup (Debian package prometheus)"
    p = subprocess.run([path, "check", "metrics"], input=text, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_once_prints_a_scrape_of_this_machine_that_promtool_accepts() -> None:
    p = run("--once")
    assert p.returncode == 0, p.stderr
    promtool_ok(p.stdout)
    m = samples(p.stdout)
    assert sum(v for _, v in m["ptag_group_processes"]) >= 2
    assert m["ptag_kernel_supported"][0][1] in (0, 1)
    assert {s[0]["mode"] for s in m["ptag_group_cpu_seconds_total"]} == {"user", "system"}
    assert set(m["ptag_group_processes"][0][0]) == {
        "container_id",
        "container_name",
        "container_runtime",
        "k8s_pod_namespace",
        "k8s_pod_name",
    }


def test_label_option_replaces_the_default_labels() -> None:
    p = run("--once", "--label", "job.name", "--label", "container.id=cid")
    assert p.returncode == 0, p.stderr
    m = samples(p.stdout)
    assert all(set(lb) == {"job_name", "cid"} for lb, _ in m["ptag_group_processes"])


@no_ptags
def test_without_kernel_support_one_warning_and_everything_untagged() -> None:
    p = run("--once")
    assert p.returncode == 0
    line = one_line(p.stderr)
    assert line.startswith("ptag: warning: kernel lacks ptag support")
    assert "untagged" in line
    m = samples(p.stdout)
    assert m["ptag_kernel_supported"] == [({}, 0.0)]
    assert len(m["ptag_group_processes"]) == 1
    labels, count = m["ptag_group_processes"][0]
    assert set(labels.values()) == {""} and count >= 2


def test_textfile_is_written_and_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "ptag.prom"
    path.write_text("old\n")
    seen: set[str] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            text = path.read_text()
            # the old file, or a whole scrape (which ends with this gauge)
            whole = re.search(r"\nptag_kernel_supported [01]\.0\n\Z", text)
            seen.add("old" if text == "old\n" else "new" if whole else f"partial: {text!r}")

    t = threading.Thread(target=reader)
    t.start()
    try:
        for _ in range(3):
            p = run("--textfile", str(path))
            assert p.returncode == 0, p.stderr
            assert p.stdout == ""
    finally:
        stop.set()
        t.join()
    text = path.read_text()
    promtool_ok(text)
    assert "ptag_group_processes{" in text
    # a reader saw the old file or a whole new one, never an empty or partial one
    assert seen <= {"old", "new"} and "new" in seen, seen
    assert sorted(os.listdir(tmp_path)) == ["ptag.prom"]  # no temporary file left
    assert (path.stat().st_mode & 0o777) == 0o644


def test_textfile_in_a_missing_directory_fails_in_one_line(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "ptag.prom"
    p = run("--textfile", str(target))
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert line == f"ptag: cannot write {target}: No such file or directory"
    p = run("--textfile", str(tmp_path))
    assert p.returncode == 1
    assert one_line(p.stderr) == f"ptag: cannot write {tmp_path}: Is a directory"


def test_write_atomically_leaves_the_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ptag.prom"
    path.write_bytes(b"old\n")
    writes: list[str] = []

    def failing_write(fd: int, data: bytes) -> int:
        writes.append(os.readlink(f"/proc/self/fd/{fd}"))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ptag.exporter.textfile.os.write", failing_write)
    with pytest.raises(OSError, match="No space"):
        textfile.write_atomically(str(path), b"new\n" * 1000)
    monkeypatch.undo()
    assert path.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["ptag.prom"]
    # the temporary file was in the same directory (a rename does not cross file
    # systems) and hidden from node_exporter's *.prom pattern
    (tmp,) = writes
    assert os.path.dirname(tmp) == str(tmp_path)
    assert os.path.basename(tmp).startswith(".ptag.prom.") and tmp.endswith(".tmp")
    textfile.write_atomically(str(path), b"new\n")
    assert path.read_bytes() == b"new\n"


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen(
        [sys.executable, "-m", "ptag.cli.main", "exporter", *args],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    line = p.stdout.readline()
    return p, line


def test_listen_serves_scrapes_and_stops_on_sigterm() -> None:
    p, line = start("--listen", "127.0.0.1:0")
    try:
        assert line.startswith("ptag exporter: serving http://127.0.0.1:"), line
        url = line.split()[-1]
        bodies = []
        for _ in range(2):
            with urllib.request.urlopen(url, timeout=30) as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/plain")
                bodies.append(r.read().decode())
        promtool_ok(bodies[-1])
        assert "ptag_scrape_duration_seconds " in bodies[-1]
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
    assert p.returncode == 0
    assert "Traceback" not in err
    assert len(err.splitlines()) <= 1  # at most the no-ptags warning


def test_listen_on_a_busy_port_fails_in_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = run("--listen", f"127.0.0.1:{port}")
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert line == f"ptag: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_listen_interrupted_exits_130() -> None:
    p, line = start("--listen", "127.0.0.1:0")
    assert "serving" in line
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130
    assert "Traceback" not in err
