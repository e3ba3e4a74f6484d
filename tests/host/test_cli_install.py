"""``ptag install``: what it writes under ``--root``, the merge of ``daemon.json``,
refusals that change nothing, ``--undo``, ``--dry-run``, and the recipes' text
being the installer's."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import ROOT, one_line, run_module

from ptag.cli import install, integrations

RUNTIME = "/opt/ptag/bin/ptag-runtime"
PTAG = "/opt/ptag/bin/ptag"
EXEC = "/opt/ptag/bin/ptag-exec"
PATHS = integrations.Paths(PTAG, EXEC, RUNTIME)
PROGRAMS = ("--ptag", PTAG, "--ptag-exec", EXEC, "--ptag-runtime", RUNTIME)


def ptag_install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module("ptag.cli.main", "install", "--root", str(root), *PROGRAMS, *args)


def files_under(root: Path) -> dict[str, bytes]:
    """Every regular file under *root*, by its path in the configured system."""
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            p = Path(dirpath, name)
            out["/" + str(p.relative_to(root))] = p.read_bytes()
    return out


def at(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def put(root: Path, path: str, text: str) -> Path:
    p = at(root, path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


# --- the command line ---------------------------------------------------------------


def test_help_lists_targets_and_exit_statuses() -> None:
    p = run_module("ptag.cli.main", "install", "--help")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("usage: ptag install")
    for target in install.TARGETS:
        assert f"\n  {target} " in p.stdout, target
    assert "Exit status:" in p.stdout
    assert all(len(line) <= 80 for line in p.stdout.splitlines())
    top = run_module("ptag.cli.main", "--help")
    assert "\n    install " in top.stdout


def test_version() -> None:
    p = run_module("ptag.cli.main", "install", "-V")
    assert p.returncode == 0
    assert p.stdout.startswith("ptag (ptag) ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "the following arguments are required: TARGET"),
        (("kubernetes",), "argument TARGET: invalid choice: 'kubernetes'"),
        (("systemd",), "systemd needs a UNIT"),
        (("systemd", "billing"), "UNIT must be a service name (NAME.service): 'billing'"),
        (("systemd", "../x.service"), "UNIT must be a service name"),
        (("docker", "extra"), "unexpected argument 'extra' (docker takes no UNIT)"),
        (("lxc", "--default"), "--default is for docker, podman and cri-o only"),
        (("docker", "-t", "a=b"), "-t/--tag is for the systemd target only"),
        (("systemd", "x.service", "-t", "novalue"), "invalid tag 'novalue': expected KEY=VALUE"),
        (("systemd", "x.service", "-t", "a b=c"), "invalid tag 'a b=c'"),
        (("docker", "--ptag-runtime", "bin/ptag-runtime"), "--ptag-runtime must be an absolute"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    p = run_module(
        "ptag.cli.main", "install", "--root", str(tmp_path), "--ptag-runtime", RUNTIME, *args
    )
    assert p.returncode == 2, p
    line = one_line(p.stderr)
    assert line.startswith("ptag: "), line
    assert message in line, line
    assert line.endswith("; try 'ptag install --help' for more information")
    assert files_under(tmp_path) == {}


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    p = ptag_install(tmp_path / "missing", "docker")
    assert p.returncode == 2
    assert "--root" in one_line(p.stderr) and "not a directory" in p.stderr


def test_missing_program_is_one_line(tmp_path: Path) -> None:
    """Without --root the configured program must exist: a daemon.json naming a
    missing ptag-runtime would fail every container."""
    p = run_module(
        "ptag.cli.main", "install", "docker", "--dry-run", "--ptag-runtime", "/nonexistent/x"
    )
    assert p.returncode == 1
    assert one_line(p.stderr) == (
        "ptag: install: --ptag-runtime /nonexistent/x: not an executable file"
    )


# --- Docker: daemon.json is merged, never clobbered ---------------------------------


def test_docker_creates_daemon_json(tmp_path: Path) -> None:
    p = ptag_install(tmp_path, "docker")
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert p.stdout.splitlines() == [
        "created /etc/docker/daemon.json",
        "next: reload dockerd (systemctl reload docker), then: docker run --runtime ptag ...",
        f"undo: ptag install --undo --root {tmp_path} docker",
    ]
    doc = json.loads(at(tmp_path, "/etc/docker/daemon.json").read_text())
    assert doc == {"runtimes": {"ptag": {"path": RUNTIME}}}
    assert files_under(tmp_path).keys() == {"/etc/docker/daemon.json"}
    # and --undo removes the file it created
    p = ptag_install(tmp_path, "--undo", "docker")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "removed /etc/docker/daemon.json\n"
    assert files_under(tmp_path) == {}


EXISTING = """\
{
  "log-level": "warn",
  "runtimes": {
    "kata": {
      "path": "/usr/bin/kata-runtime",
      "runtimeArgs": ["--debug"]
    }
  },
  "storage-driver": "overlay2",
  "insecure-registries": ["r.example:5000"]
}
"""


def test_docker_merge_keeps_every_key_and_undo_restores_it(tmp_path: Path) -> None:
    daemon = put(tmp_path, "/etc/docker/daemon.json", EXISTING)
    daemon.chmod(0o600)
    p = ptag_install(tmp_path, "docker", "--default")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "updated /etc/docker/daemon.json"
    doc = json.loads(daemon.read_text())
    before = json.loads(EXISTING)
    assert list(doc) == [*before, "default-runtime"]  # order kept, ours appended
    assert doc["runtimes"] == {**before["runtimes"], "ptag": {"path": RUNTIME}}
    assert doc["default-runtime"] == "ptag"
    assert {k: v for k, v in doc.items() if k not in ("runtimes", "default-runtime")} == {
        k: v for k, v in before.items() if k != "runtimes"
    }
    assert stat.S_IMODE(daemon.stat().st_mode) == 0o600  # the file's mode is kept
    # a second run changes nothing
    p = ptag_install(tmp_path, "docker", "--default")
    assert (p.returncode, p.stdout) == (0, "docker: already installed, nothing changed\n")
    p = ptag_install(tmp_path, "--undo", "docker")
    assert p.returncode == 0, p.stderr
    assert daemon.read_text() == EXISTING  # this file was in the canonical layout
    assert ptag_install(tmp_path, "--undo", "docker").stdout == (
        "docker: not installed, nothing changed\n"
    )


def test_docker_dry_run_shows_a_diff_and_writes_nothing(tmp_path: Path) -> None:
    daemon = put(tmp_path, "/etc/docker/daemon.json", EXISTING)
    p = ptag_install(tmp_path, "docker", "--dry-run", "--default")
    assert p.returncode == 0, p.stderr
    assert daemon.read_text() == EXISTING
    assert p.stdout == (
        "--- /etc/docker/daemon.json\n"
        "+++ /etc/docker/daemon.json\n"
        "@@ -4,8 +4,12 @@\n"
        '     "kata": {\n'
        '       "path": "/usr/bin/kata-runtime",\n'
        '       "runtimeArgs": ["--debug"]\n'
        "+    },\n"
        '+    "ptag": {\n'
        f'+      "path": "{RUNTIME}"\n'
        "     }\n"
        "   },\n"
        '   "storage-driver": "overlay2",\n'
        '-  "insecure-registries": ["r.example:5000"]\n'
        '+  "insecure-registries": ["r.example:5000"],\n'
        '+  "default-runtime": "ptag"\n'
        " }\n"
    )
    assert ptag_install(tmp_path, "docker", "--undo", "-n").stdout == "docker: nothing to change\n"


@pytest.mark.parametrize(
    ("text", "undone"),
    [
        ('{"a":1}', None),
        ('{"a": 1, "runtimes": {"k": {"path": "/k"}}}\n', None),
        ('{\n\t"x": [1],\n\t"runtimes": {\n\t\t"k": {"path": "/k"}\n\t}\n}\n', None),
        ('  {\n    "b": true\n  }', None),
        ('{"runtimes": {}, "a": 1}', '{"a": 1}'),  # an emptied "runtimes" goes
        ("{}", None),  # an empty daemon.json that was there stays, empty
        ("{}\n", None),
    ],
)
def test_docker_edit_keeps_the_layout(tmp_path: Path, text: str, undone: str | None) -> None:
    """The merge is an edit of the text: what was there stays byte for byte, and
    --undo gives back the original (or, for an emptied "runtimes", drops it)."""
    daemon = put(tmp_path, "/etc/docker/daemon.json", text)
    assert ptag_install(tmp_path, "docker", "--default").returncode == 0
    doc = json.loads(daemon.read_text())
    before = json.loads(text)
    assert doc == {
        **before,
        "runtimes": {**before.get("runtimes", {}), "ptag": {"path": RUNTIME}},
        "default-runtime": "ptag",
    }
    assert ptag_install(tmp_path, "--undo", "docker").returncode == 0
    assert daemon.read_text() == (text if undone is None else undone)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "/etc/docker/daemon.json is not valid JSON ("),
        ("[1, 2]", "/etc/docker/daemon.json is not a JSON object; fix it first"),
        ('{"runtimes": []}', '/etc/docker/daemon.json: "runtimes" is not a JSON object'),
        (
            '{"runtimes": {"ptag": {"path": "/elsewhere/ptag-runtime"}}}',
            '/etc/docker/daemon.json already has a runtime "ptag": '
            '{"path": "/elsewhere/ptag-runtime"}; remove it first',
        ),
        (
            '{"default-runtime": "runc"}',
            '/etc/docker/daemon.json already sets "default-runtime": "runc"',
        ),
        (b"\xff\xfe{}".decode("latin-1"), "is not UTF-8 text; fix it first"),
    ],
)
def test_docker_refusals_change_nothing(tmp_path: Path, text: str, message: str) -> None:
    daemon = at(tmp_path, "/etc/docker/daemon.json")
    daemon.parent.mkdir(parents=True)
    daemon.write_bytes(text.encode("latin-1"))
    p = ptag_install(tmp_path, "docker", "--default")
    assert p.returncode == 1, p
    line = one_line(p.stderr)
    assert line.startswith("ptag: install: "), line
    assert message in line, line
    assert p.stdout == ""
    assert daemon.read_bytes() == text.encode("latin-1")
    assert files_under(tmp_path).keys() == {"/etc/docker/daemon.json"}


def test_docker_undo_leaves_a_ptag_runtime_it_did_not_write(tmp_path: Path) -> None:
    """A "ptag" runtime with another path (written by hand, or installed with another
    --ptag-runtime) is not this install's to remove: refused, nothing changed."""
    text = '{"runtimes": {"ptag": {"path": "/opt/other/ptag-runtime"}}, "default-runtime": "ptag"}'
    daemon = put(tmp_path, "/etc/docker/daemon.json", text)
    p = ptag_install(tmp_path, "--undo", "docker")
    assert p.returncode == 1
    assert one_line(p.stderr) == (
        'ptag: install: /etc/docker/daemon.json has a runtime "ptag" that ptag install does '
        'not write here: {"path": "/opt/other/ptag-runtime"}; remove it by hand, or undo with '
        "the --ptag-runtime it was installed with"
    )
    assert daemon.read_text() == text


def test_docker_undo_keeps_other_runtimes(tmp_path: Path) -> None:
    put(tmp_path, "/etc/docker/daemon.json", '{"runtimes": {"kata": {"path": "/k"}}}')
    assert ptag_install(tmp_path, "docker").returncode == 0
    assert ptag_install(tmp_path, "--undo", "docker").returncode == 0
    doc = json.loads(at(tmp_path, "/etc/docker/daemon.json").read_text())
    assert doc == {"runtimes": {"kata": {"path": "/k"}}}


def test_docker_symlink_is_refused(tmp_path: Path) -> None:
    real = put(tmp_path, "/srv/daemon.json", "{}")
    at(tmp_path, "/etc/docker").mkdir(parents=True)
    at(tmp_path, "/etc/docker/daemon.json").symlink_to(real)
    p = ptag_install(tmp_path, "docker")
    assert p.returncode == 1
    assert "is a symbolic link" in one_line(p.stderr)
    assert real.read_text() == "{}"


# --- the files of their own: podman, cri-o, hooks, lxc ------------------------------

OWN_FILES = {
    "podman": {integrations.PODMAN_CONF: integrations.podman_conf(PATHS, default=False)},
    "podman-hook": {integrations.PODMAN_HOOK: integrations.oci_hook(PATHS, "podman")},
    "cri-o": {integrations.CRIO_CONF: integrations.crio_conf(PATHS, default=False)},
    "cri-o-hook": {integrations.CRIO_HOOK: integrations.oci_hook(PATHS, "cri-o")},
    "lxc": {
        integrations.LXC_HOOK: integrations.lxc_hook(PATHS),
        integrations.LXC_CONF: integrations.lxc_conf(),
    },
}


@pytest.mark.parametrize("target", sorted(OWN_FILES))
def test_target_writes_its_files_and_undo_removes_them(tmp_path: Path, target: str) -> None:
    p = ptag_install(tmp_path, target)
    assert p.returncode == 0, p.stderr
    want = OWN_FILES[target]
    assert files_under(tmp_path) == {k: v.encode() for k, v in want.items()}
    lines = p.stdout.splitlines()
    assert lines[: len(want)] == [f"created {path}" for path in want]
    assert lines[-1] == f"undo: ptag install --undo --root {tmp_path} {target}"
    for path in want:
        mode = stat.S_IMODE(at(tmp_path, path).stat().st_mode)
        assert mode == (0o755 if path == integrations.LXC_HOOK else 0o644)
        if path.endswith(".json"):
            json.loads(at(tmp_path, path).read_text())
    again = ptag_install(tmp_path, target)
    assert again.stdout == f"{target}: already installed, nothing changed\n"
    p = ptag_install(tmp_path, "--undo", target)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [f"removed {path}" for path in want]
    assert files_under(tmp_path) == {}


@pytest.mark.parametrize("target", sorted(OWN_FILES))
def test_a_file_it_did_not_write_is_never_touched(tmp_path: Path, target: str) -> None:
    path = next(iter(OWN_FILES[target]))
    foreign = put(tmp_path, path, '{"version": "1.0.0", "hook": {"path": "/bin/other"}}\n')
    for args in ((target,), ("--undo", target)):
        p = ptag_install(tmp_path, *args)
        assert p.returncode == 1, p
        assert one_line(p.stderr) == (
            f"ptag: install: {path} exists and was not written by ptag install; move it away first"
        )
        assert foreign.read_text().startswith('{"version"')
    assert files_under(tmp_path).keys() == {path}


def test_an_older_install_of_its_own_is_updated(tmp_path: Path) -> None:
    old = integrations.podman_conf(
        integrations.Paths("/a", "/b", "/old/ptag-runtime"), default=False
    )
    conf = put(tmp_path, integrations.PODMAN_CONF, old)
    p = ptag_install(tmp_path, "podman", "--default")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"updated {integrations.PODMAN_CONF}\n")
    assert conf.read_text() == integrations.podman_conf(PATHS, default=True)
    assert 'runtime = "ptag"' in conf.read_text()


def test_a_problem_found_while_planning_writes_nothing(tmp_path: Path) -> None:
    """lxc writes two files; a path that cannot hold the second stops it before the
    first is written."""
    blocker = put(tmp_path, "/usr/share/lxc", "a file where a directory must be")
    p = ptag_install(tmp_path, "lxc")
    assert p.returncode == 1, p
    assert one_line(p.stderr) == (
        f"ptag: install: cannot read {integrations.LXC_CONF}: Not a directory"
    )
    assert files_under(tmp_path) == {"/usr/share/lxc": blocker.read_bytes()}


def test_failure_part_way_puts_back_what_was_written(tmp_path: Path) -> None:
    """When writing a later file fails, the earlier ones get their old content back
    (or go away), and the directories made for them too: nothing half applied."""
    old = put(tmp_path, "/etc/a.conf", "old a\n")
    blocker = put(tmp_path, "/srv/c", "a file where a directory must be")
    changes = [
        install.Change("/etc/a.conf", str(old), b"old a\n", b"new a\n", 0o644),
        install.Change("/opt/x/y/b.conf", str(at(tmp_path, "/opt/x/y/b.conf")), None, b"b", 0o644),
        install.Change("/srv/c/d.conf", str(at(tmp_path, "/srv/c/d.conf")), None, b"d", 0o644),
    ]
    with pytest.raises(install.InstallError) as info:
        install.apply(changes)
    assert str(info.value) == "cannot write /srv/c/d.conf: Not a directory; nothing changed"
    assert files_under(tmp_path) == {"/etc/a.conf": b"old a\n", "/srv/c": blocker.read_bytes()}
    assert not at(tmp_path, "/opt").exists()


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    assert ptag_install(tmp_path, "docker").returncode == 0
    assert ptag_install(tmp_path, "docker", "--default").returncode == 0
    assert os.listdir(at(tmp_path, "/etc/docker")) == ["daemon.json"]


def test_write_atomic_replaces_and_keeps_the_inode_name(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    fd = os.open(target, os.O_RDONLY)  # a reader that opened the old file keeps it whole
    try:
        install.write_atomic(str(target), b"new contents", 0o640)
        assert os.read(fd, 100) == b"old"
    finally:
        os.close(fd)
    assert target.read_bytes() == b"new contents"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["f"]


def test_default_programs_are_found_beside_the_interpreter(tmp_path: Path) -> None:
    """Without --ptag, the hook names the ptag of this installation (the venv's
    bin, where pip put the console scripts), by absolute path."""
    p = run_module("ptag.cli.main", "install", "--root", str(tmp_path), "podman-hook")
    assert p.returncode == 0, p.stderr
    hook = json.loads(at(tmp_path, integrations.PODMAN_HOOK).read_text())
    found = install.find_program("ptag")
    assert found is not None and os.path.isabs(found)
    assert hook["hook"]["path"] == found
    assert hook["hook"]["args"] == ["ptag", "oci-hook", "--runtime", "podman"]


# --- systemd ------------------------------------------------------------------------

UNIT = """\
[Unit]
Description=Billing

[Service]
ExecStart=/usr/bin/billing-old
User=billing
"""


def test_systemd_wraps_every_execstart(tmp_path: Path) -> None:
    put(tmp_path, "/lib/systemd/system/billing.service", UNIT)
    put(
        tmp_path,
        "/etc/systemd/system/billing.service.d/override.conf",
        "[Service]\nExecStart=\nExecStart=-/usr/bin/billing-server \\\n    --port 8080\n"
        "ExecStart=+/usr/bin/billing-worker\n",
    )
    p = ptag_install(tmp_path, "systemd", "billing.service", "-t", "team=pay ments")
    assert p.returncode == 0, p.stderr
    dropin = "/etc/systemd/system/billing.service.d/zz-ptag.conf"
    assert p.stdout.splitlines() == [
        f"created {dropin}",
        "next: systemctl daemon-reload && systemctl restart billing.service",
        f"undo: ptag install --undo --root {tmp_path} systemd billing.service",
    ]
    assert at(tmp_path, dropin).read_text() == (
        "# Written by 'ptag install systemd billing.service'; "
        "'ptag install --undo systemd billing.service' removes it.\n"
        "[Service]\n"
        "ExecStart=\n"
        f'ExecStart=-{EXEC} -t "team=pay ments" -- /usr/bin/billing-server --port 8080\n'
        f'ExecStart=+{EXEC} -t "team=pay ments" -- /usr/bin/billing-worker\n'
    )
    # re-installing reads the unit again, not its own drop-in
    p = ptag_install(tmp_path, "systemd", "billing.service")
    assert p.returncode == 0, p.stderr
    assert f"-{EXEC} -t service.name=%n -- /usr/bin/billing-server" in (
        at(tmp_path, dropin).read_text()
    )
    assert ptag_install(tmp_path, "--undo", "systemd", "billing.service").returncode == 0
    assert not at(tmp_path, dropin).exists()
    assert at(tmp_path, "/etc/systemd/system/billing.service.d/override.conf").exists()


def test_systemd_template_instance_uses_the_template(tmp_path: Path) -> None:
    put(
        tmp_path, "/usr/lib/systemd/system/getty@.service", "[Service]\nExecStart=/sbin/agetty %I\n"
    )
    p = ptag_install(tmp_path, "systemd", "getty@tty1.service")
    assert p.returncode == 0, p.stderr
    text = at(tmp_path, "/etc/systemd/system/getty@tty1.service.d/zz-ptag.conf").read_text()
    assert text.endswith(f"ExecStart={EXEC} -t service.name=%n -- /sbin/agetty %I\n")


@pytest.mark.parametrize(
    ("unit", "message"),
    [
        (None, "unit billing.service not found in /etc/systemd/system"),
        ("[Service]\nType=oneshot\n", "has no ExecStart= in [Service]"),
        ("[Service]\nExecStart=@/usr/bin/x x-name\n", "uses '@' (its own argv[0])"),
    ],
)
def test_systemd_refusals(tmp_path: Path, unit: str | None, message: str) -> None:
    if unit is not None:
        put(tmp_path, "/etc/systemd/system/billing.service", unit)
    before = files_under(tmp_path)
    p = ptag_install(tmp_path, "systemd", "billing.service")
    assert p.returncode == 1
    assert message in one_line(p.stderr)
    assert files_under(tmp_path) == before


def test_exec_starts_parsing() -> None:
    texts = [
        "[Unit]\nExecStart=/not/service\n[Service]\nExecStart=/a\n# ExecStart=/comment\n",
        "[Service]\nExecStart=\n",
        "[Service]\nExecStart=!!/b  x\nExecStart=:/c\n",
    ]
    assert integrations.exec_starts(texts, "u") == [("!!", "/b  x"), (":", "/c")]


def test_systemd_quote() -> None:
    assert integrations.systemd_quote("team=a") == "team=a"
    assert integrations.systemd_quote('a "b" \\c') == '"a \\"b\\" \\\\c"'
    assert integrations.systemd_quote("") == '""'


# --- one source: the recipes show what the installer writes -------------------------


def test_recipes_include_the_generated_configurations() -> None:
    """Every configuration the recipes show comes from ``ptag.cli.integrations``
    (rendered into ``docs/_generated/install/`` by the Sphinx extension), not from
    a copy in the page."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'docs' / '_ext')!r}); import ptag_docs; "
        "print('\\n'.join(sorted(ptag_docs.install_configs())))"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "libptag")),
    )
    assert p.returncode == 0, p.stderr
    names = p.stdout.split()
    assert len(names) >= 8
    recipes = (ROOT / "docs" / "recipes.rst").read_text()
    for name in names:
        assert f"literalinclude:: _generated/install/{name}\n" in recipes, name
    # no hand-written copy of them is left in the pages or the examples
    assert not (ROOT / "docs" / "examples" / "oci-hooks.d-ptag.json").exists()
    assert not (ROOT / "docs" / "examples" / "ptag-lxc-hook").exists()
    assert '"runtimes"' not in recipes
    assert "lxc.hook.start-host = /" not in recipes.replace("raw.lxc 'lxc.hook", "")


def test_install_imports_only_its_own_modules() -> None:
    """``ptag install`` loads its module and the configurations, not the other
    commands' (start-up is most of a short command's cost)."""
    code = (
        "import sys, contextlib, io\n"
        "from ptag.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main.main(['install', '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "libptag")),
    )
    loaded = set(p.stdout.split())
    assert {"ptag.cli.install", "ptag.cli.integrations"} <= loaded, p.stderr
    for name in ("ptag.cli.ps", "ptag.cli.oci_hook", "ptag.cli.explain", "ptag.cli.jsonedit"):
        assert name not in loaded, name
    for name in ("ctypes", "typing", "dataclasses", "inspect", "shutil", "difflib"):
        assert name not in loaded, name
