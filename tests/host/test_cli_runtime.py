"""``ptag-runtime``: the sh front (pass-through, runtime discovery, the recursion
guard) and the Python half's fail-closed paths, on any kernel.

The front is the repository's ``libptag/bin/ptag-runtime``, run by dash, bash in
POSIX mode and busybox sh, with a ``ptag-runtime-py`` next to it that runs this
tree's library.  Where a test needs to see the exact arguments the real runtime
gets, the "real runtime" is a tiny script that records its argv: a stand-in for
argument forwarding only.  Everything else runs the real runc (Debian's), which
works on this host: ``test_runc_*``.  Tagging itself, and crun, are proven in the
VM (tests/runtimes).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_run import ROOT, no_ptags, one_line

import ptag

FRONT = ROOT / "libptag" / "bin" / "ptag-runtime"
SHELLS = [
    pytest.param(["dash"], id="dash"),
    pytest.param(["bash", "--posix"], id="bash-posix"),
    pytest.param(["busybox", "sh"], id="busybox-sh"),
]
RUNC = shutil.which("runc") or shutil.which("runc", path="/usr/sbin:/usr/bin:/sbin:/bin")

sys.path.insert(0, str(ROOT / "tests" / "runtimes"))
import bundle as bundles  # noqa: E402  (tests/runtimes/bundle.py)

RECORDER = """\
#!/bin/sh
# A stand-in real runtime that records how it was called (argv NUL-separated).
printf '%s\\n' "${PTAG_RUNTIME_ACTIVE-unset}" > "$REC_DIR/$NAME.env"
: > "$REC_DIR/$NAME.argv"
for a in "$0" "$@"; do printf '%s\\0' "$a" >> "$REC_DIR/$NAME.argv"; done
echo "$NAME ran"
exit "${REC_STATUS:-0}"
"""


def write_exe(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


class Env:
    """A bin directory with the front (a symlink to the repo's), its Python half
    (this tree's library), and recorders; run the front in a clean environment."""

    def __init__(self, tmp: Path, shell: list[str]) -> None:
        self.tmp = tmp
        found = shutil.which(shell[0])
        assert found, f"{shell[0]} is not installed (tools/setup installs it)"
        self.shell = [found, *shell[1:]]
        self.bin = tmp / "bin"
        self.bin.mkdir()
        self.rec = tmp / "rec"
        self.rec.mkdir()
        self.front = self.bin / "ptag-runtime"
        self.front.symlink_to(FRONT)
        write_exe(
            self.bin / "ptag-runtime-py",
            f"#!/bin/sh\nPYTHONPATH={ROOT / 'libptag'} exec {sys.executable} "
            '-m ptag.cli.runtime "$@"\n',
        )
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith("PTAG_") and k != "PATH"
        }
        self.env.update(REC_DIR=str(self.rec), LC_ALL="C.UTF-8")
        self.path = [str(self.bin), "/usr/local/sbin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    def recorder(self, name: str, where: Path | None = None) -> Path:
        d = where or self.bin
        d.mkdir(exist_ok=True)
        return write_exe(d / name, RECORDER.replace("$NAME", name))

    def run(
        self, *args: str, env: dict[str, str] | None = None, front: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        e = dict(self.env, PATH=":".join(self.path))
        e.update(env or {})
        cmd = [*self.shell, str(front or self.front), *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=120)

    def argv(self, name: str) -> list[str] | None:
        """What the recorder *name* was called with (argv[0] included), or None."""
        f = self.rec / f"{name}.argv"
        if not f.exists():
            return None
        return f.read_bytes().decode().split("\0")[:-1]

    def marker(self, name: str) -> str:
        return (self.rec / f"{name}.env").read_text().rstrip("\n")


@pytest.fixture(params=SHELLS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    shell: list[str] = request.param
    if shutil.which(shell[0]) is None:
        pytest.fail(f"{shell[0]} is not installed (tools/setup installs it)")
    yield Env(tmp_path, shell)


@pytest.fixture
def dash(tmp_path: Path) -> Env:
    """The front under /bin/sh's usual implementation only (for the slower tests)."""
    return Env(tmp_path, ["dash"])


# --- pass-through ------------------------------------------------------------

PASS_THROUGH: list[tuple[list[str], list[str]]] = [
    (["--version"], ["--version"]),
    (["-v"], ["-v"]),
    (["state", "c1"], ["state", "c1"]),
    (["start", "c1"], ["start", "c1"]),
    (["features"], ["features"]),
    (["ps", "c1"], ["ps", "c1"]),
    (["delete", "--force", "c1"], ["delete", "--force", "c1"]),
    (
        ["--root", "/r", "--log", "/l", "--log-format", "json", "kill", "c1", "KILL"],
        ["--root", "/r", "--log", "/l", "--log-format", "json", "kill", "c1", "KILL"],
    ),
    (
        ["--debug", "--systemd-cgroup", "start", "c1"],
        ["--debug", "--systemd-cgroup", "start", "c1"],
    ),
    # ptag-runtime's own options go, wherever they are among the global ones
    (
        [
            "--ptag-runtime-name",
            "x",
            "--ptag-best-effort",
            "--root",
            "/r",
            "--ptag-key-prefix=inner.",
            "--ptag-annotation-prefix",
            "",
            "delete",
            "--force",
            "c1",
        ],
        ["--root", "/r", "delete", "--force", "c1"],
    ),
    # an option's value is not an option, nor is anything after the command
    (
        ["--root", "--ptag-best-effort", "state", "c"],
        ["--root", "--ptag-best-effort", "state", "c"],
    ),
    (
        ["--ptag-best-effort", "--log", "--ptag-x", "state", "c"],
        ["--log", "--ptag-x", "state", "c"],
    ),
    (
        ["--ptag-best-effort", "kill", "--ptag-best-effort", "a b", "", "x\ny", "*", "$HOME"],
        ["kill", "--ptag-best-effort", "a b", "", "x\ny", "*", "$HOME"],
    ),
    (
        ["state", "a b", "", "x\ny", "*", "--ptag-runtime"],
        ["state", "a b", "", "x\ny", "*", "--ptag-runtime"],
    ),
    ([], []),
]


@pytest.mark.parametrize(("args", "forwarded"), PASS_THROUGH)
def test_pass_through_forwards_argv(env: Env, args: list[str], forwarded: list[str]) -> None:
    runc = env.recorder("runc")
    p = env.run(*args)
    assert (p.returncode, p.stdout, p.stderr) == (0, "runc ran\n", "")
    assert env.argv("runc") == [str(runc), *forwarded]
    assert env.marker("runc") == str(runc)


def test_pass_through_exit_status(env: Env) -> None:
    env.recorder("runc")
    p = env.run("kill", "c1", env={"REC_STATUS": "7"})
    assert p.returncode == 7


def test_pass_through_needs_no_python(tmp_path: Path) -> None:
    """A front with no ptag-runtime-py anywhere still passes commands through: only
    create, run and exec start Python."""
    e = Env(tmp_path, ["dash"])
    alone = tmp_path / "alone"
    alone.mkdir()
    front = alone / "ptag-runtime"
    shutil.copy(FRONT, front)
    e.path = [str(alone), str(e.bin)]
    (e.bin / "ptag-runtime-py").unlink()
    runc = e.recorder("runc")
    p = e.run("--root", "/r", "state", "c1", front=front)
    assert (p.returncode, p.stderr) == (0, "")
    assert e.argv("runc") == [str(runc), "--root", "/r", "state", "c1"]
    p = e.run("create", "c1", front=front)
    assert p.returncode == 125
    assert one_line(p.stderr).startswith("ptag-runtime: ptag-runtime-py not found next to")
    assert e.argv("runc") == [str(runc), "--root", "/r", "state", "c1"]  # not run again


def test_info_options_pass_through(env: Env) -> None:
    runc = env.recorder("runc")
    p = env.run("--root", "/r", "--help", "create", "x")
    assert p.returncode == 0
    assert env.argv("runc") == [str(runc), "--root", "/r", "--help", "create", "x"]


# --- discovery and the recursion guard -----------------------------------------


def test_runc_before_crun_on_path(env: Env) -> None:
    crun = env.recorder("crun", env.tmp / "a")
    runc = env.recorder("runc", env.tmp / "b")
    env.path[1:1] = [str(crun.parent), str(runc.parent)]
    env.run("state", "c1")
    assert env.argv("runc") == [str(runc), "state", "c1"]
    assert env.argv("crun") is None


def test_crun_when_no_runc(env: Env) -> None:
    crun = env.recorder("crun", env.tmp / "a")
    env.path = [str(env.bin), str(crun.parent)]
    env.run("state", "c1")
    assert env.argv("crun") == [str(crun), "state", "c1"]


def test_named_runtime(env: Env) -> None:
    runc = env.recorder("runc")
    crun = env.recorder("crun")
    other = env.recorder("other", env.tmp / "elsewhere")
    env.run("state", "c1", env={"PTAG_RUNTIME": "crun"})
    assert env.argv("crun") == [str(crun), "state", "c1"]
    env.run("state", "c2", env={"PTAG_RUNTIME": str(other)})
    assert env.argv("other") == [str(other), "state", "c2"]
    # the option beats the environment, in both spellings
    env.run("--ptag-runtime", "runc", "state", "c3", env={"PTAG_RUNTIME": "crun"})
    assert env.argv("runc") == [str(runc), "state", "c3"]
    env.run(f"--ptag-runtime={other}", "state", "c4", env={"PTAG_RUNTIME": "crun"})
    assert env.argv("other") == [str(other), "state", "c4"]


def test_skips_itself_on_path(env: Env) -> None:
    """ptag-runtime installed as 'runc' (a symlink first on PATH) finds the real runc."""
    shim = env.tmp / "shim"
    shim.mkdir()
    (shim / "runc").symlink_to(env.front)
    runc = env.recorder("runc", env.tmp / "real")
    env.path = [str(shim), str(env.bin), str(runc.parent)]
    p = env.run("state", "c1", front=shim / "runc")
    assert (p.returncode, p.stderr) == (0, "")
    assert env.argv("runc") == [str(runc), "state", "c1"]


@pytest.mark.parametrize("command", [["state", "c1"], ["create", "c1"]])
def test_named_runtime_is_itself(env: Env, command: list[str]) -> None:
    link = env.tmp / "runc"
    link.symlink_to(env.front)
    p = env.run(*command, env={"PTAG_RUNTIME": str(link)})
    assert p.returncode == 125
    assert one_line(p.stderr) == (
        f"ptag-runtime: the real runtime '{link}' is ptag-runtime itself; point "
        "PTAG_RUNTIME or --ptag-runtime at runc or crun"
    )


def test_loop_through_another_wrapper(env: Env) -> None:
    """A 'runc' that runs ptag-runtime again (not a symlink: test -ef cannot see it):
    the marker stops the second round."""
    loop = write_exe(env.tmp / "runc-wrapper", f'#!/bin/sh\nexec "{env.front}" "$@"\n')
    p = env.run("state", "c1", env={"PTAG_RUNTIME": str(loop)})
    assert p.returncode == 125
    assert one_line(p.stderr) == (
        f"ptag-runtime: started again under its own real runtime '{loop}' "
        "(PTAG_RUNTIME_ACTIVE is set): a loop; point PTAG_RUNTIME or --ptag-runtime at "
        "the real runc or crun"
    )


@pytest.mark.parametrize("command", [["state", "c1"], ["run", "c1"]])
def test_runtime_not_found(env: Env, command: list[str]) -> None:
    env.path = [str(env.bin)]
    p = env.run(*command)
    assert p.returncode == 127
    assert one_line(p.stderr) == (
        "ptag-runtime: no real runtime: neither runc nor crun is on PATH; install one, "
        "or name it with PTAG_RUNTIME=PATH or --ptag-runtime=PATH"
    )
    p = env.run(*command, env={"PTAG_RUNTIME": "/nonexistent/runc"})
    assert p.returncode == 127
    assert one_line(p.stderr).startswith(
        "ptag-runtime: real runtime '/nonexistent/runc' not found; install it"
    )
    p = env.run("--ptag-runtime", "nosuchruntime", *command)
    assert p.returncode == 127
    assert "'nosuchruntime' not found" in one_line(p.stderr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ptag-bogus", "state", "c1"], "unrecognized option '--ptag-bogus'"),
        (
            ["--ptag-best-effort=yes", "create", "c1"],
            "option '--ptag-best-effort' doesn't allow an argument",
        ),
        (["--ptag-runtime"], "option '--ptag-runtime' requires an argument"),
        (["--debug", "--ptag-key-prefix"], "option '--ptag-key-prefix' requires an argument"),
    ],
)
def test_bad_ptag_option(env: Env, args: list[str], message: str) -> None:
    """Even for a pass-through command: a typo must not silently pick another runtime."""
    env.recorder("runc")
    p = env.run(*args)
    assert p.returncode == 125
    assert one_line(p.stderr) == f"ptag-runtime: {message}; see ptag-runtime(1)"
    assert env.argv("runc") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--cgroup", "cgroupfs", "create", "c1"],
            "global option '--cgroup': crun reads it as '--cgroup-manager', runc does not "
            "know it; write '--cgroup-manager'",
        ),
        (
            ["--new-global", "x", "exec", "c1", "ls"],
            "unknown global option '--new-global': ptag-runtime cannot tell whether it "
            "takes a value, so which word is the command (give it as --new-global=VALUE if "
            "it does)",
        ),
    ],
)
def test_a_hidden_create_is_not_passed_through(env: Env, args: list[str], message: str) -> None:
    """An unknown global option may take the next word as its value, making a later
    create, run or exec the command: not passed through untagged, but refused."""
    env.recorder("runc")
    p = env.run(*args)
    assert (p.returncode, one_line(p.stderr)) == (
        125,
        f"ptag-runtime: {message}; see ptag-runtime(1)",
    )
    assert env.argv("runc") is None


@pytest.mark.parametrize(
    "args",
    [
        ["-root", "/r", "state", "c1"],
        ["--new-global", "x", "state", "c1"],
        ["--new-global=x", "kill", "c1", "create"],
    ],
)
def test_unknown_globals_before_a_passthrough_command(env: Env, args: list[str]) -> None:
    runc = env.recorder("runc")
    p = env.run(*args)
    assert (p.returncode, p.stderr) == (0, "")
    assert env.argv("runc") == [str(runc), *args]


@no_ptags
def test_go_style_globals_before_create_are_tagged(dash: Env) -> None:
    """-root DIR create: create is the command (the Python half sees it and, on this
    kernel without ptags, fails closed); the front did not pass it through."""
    dash.recorder("runc")
    b = write_config(dash.tmp / "b", {})
    p = dash.run("-root", "/r", "create", "--bundle", str(b), "c1")
    assert p.returncode == 125
    assert "kernel lacks ptag support" in one_line(p.stderr)
    assert dash.argv("runc") is None


def test_ptag_help_and_version(dash: Env) -> None:
    p = dash.run("--ptag-help")
    assert p.returncode == 0
    assert p.stdout.startswith("Usage:\n ptag-runtime ")
    assert "--ptag-best-effort" in p.stdout
    p = dash.run("--ptag-version")
    assert (p.returncode, p.stdout) == (0, f"ptag-runtime (ptag) {ptag.__version__}\n")


def test_python_half_alone_says_what_it_is() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "ptag.cli.runtime", "create", "x"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "libptag")),
    )
    assert p.returncode == 125
    assert one_line(p.stderr).startswith("ptag-runtime-py: the Python half of ptag-runtime")


# --- create and run: the bundle's config.json, failing closed ---------------------


def write_config(bundle: Path, annotations: object, name: str = "config.json") -> Path:
    bundle.mkdir(exist_ok=True)
    doc = {"ociVersion": "1.0.2", "process": {"args": ["true"]}, "annotations": annotations}
    (bundle / name).write_text(json.dumps(doc))
    return bundle


TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)"


def log_entries(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_bad_annotation_fails_closed_json_log(dash: Env) -> None:
    runc = dash.recorder("runc")
    b = write_config(dash.tmp / "b", {"org.ptag.tag.bad key": "v"})
    log = dash.tmp / "log.json"
    p = dash.run("--log", str(log), "--log-format", "json", "create", "--bundle", str(b), "c1")
    assert p.returncode == 125
    line = one_line(p.stderr)
    assert line == (
        "ptag-runtime: create c1: cannot set tag 'bad key' from annotation 'org.ptag.tag.bad "
        "key': invalid character ' ' (0x20) at position 3 in key 'bad key'; keys may contain "
        "only A-Z a-z 0-9 . _ / : - and must start with a letter or digit; runc not run "
        "(PTAG_RUNTIME_BEST_EFFORT=1 runs it untagged)"
    )
    assert dash.argv("runc") is None, "the real runtime ran"
    (entry,) = log_entries(log)
    assert list(entry) == ["level", "msg", "time"]
    assert entry["level"] == "error"
    assert entry["msg"] == line
    assert re.fullmatch(TIME, entry["time"])
    assert runc.exists()


def test_bad_annotation_fails_closed_text_log(dash: Env) -> None:
    dash.recorder("runc")
    b = write_config(dash.tmp / "b", {"org.ptag.tag.": "v"})
    log = dash.tmp / "log"
    log.write_text("earlier line\n")
    p = dash.run(f"--log={log}", "run", "-d", "-b", str(b), "c1")
    assert p.returncode == 125
    line = one_line(p.stderr)
    assert line.startswith("ptag-runtime: run c1: annotation 'org.ptag.tag.' names no tag;")
    assert dash.argv("runc") is None
    first, second = log.read_text().splitlines()
    assert first == "earlier line"
    m = re.fullmatch(f'time="({TIME})" level=error msg=(".*")', second)
    assert m, second
    assert json.loads(m.group(3)) == line


def test_key_conflict_in_annotations(dash: Env) -> None:
    dash.recorder("runc")
    b = write_config(dash.tmp / "b", {"org.ptag.tag.container.id": "other"})
    p = dash.run("create", "-b", str(b), "c1")
    assert p.returncode == 125
    assert "conflicting values for tag 'container.id': 'c1' from the container id, 'other'" in (
        one_line(p.stderr)
    )


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda b: None, "cannot read {b}/config.json: No such file or directory"),
        (lambda b: (b / "config.json").write_text("{"), "invalid {b}/config.json JSON:"),
        (lambda b: (b / "config.json").write_text("[]"), "expected a JSON object"),
        (lambda b: (b / "config.json").write_text(""), "{b}/config.json is empty"),
        (
            lambda b: (b / "config.json").write_text('{"annotations": {"a": 1}}'),
            "invalid {b}/config.json: annotation 'a' is not a string",
        ),
    ],
)
def test_unreadable_config_fails_closed(dash: Env, setup: object, message: str) -> None:
    dash.recorder("runc")
    b = dash.tmp / "b"
    b.mkdir()
    setup(b)  # type: ignore[operator]
    p = dash.run("create", "--bundle", str(b), "c1")
    assert p.returncode == 125
    assert message.format(b=b) in one_line(p.stderr)
    assert dash.argv("runc") is None


def test_config_in_cwd_and_crun_config_option(dash: Env) -> None:
    dash.recorder("crun")
    dash.env["PTAG_RUNTIME"] = "crun"
    b = write_config(dash.tmp / "b", {"org.ptag.tag.": "x"}, name="alt.json")
    p = subprocess.run(
        [*dash.shell, str(dash.front), "create", "--config", "alt.json", "c1"],
        capture_output=True,
        text=True,
        cwd=b,
        env=dict(dash.env, PATH=":".join(dash.path)),
    )
    assert p.returncode == 125
    assert "annotation 'org.ptag.tag.' names no tag" in p.stderr


def test_best_effort_runs_untagged(dash: Env) -> None:
    runc = dash.recorder("runc")
    b = write_config(dash.tmp / "b", {"org.ptag.tag.bad key": "v"})
    log = dash.tmp / "log.json"
    args = ["--log", str(log), "--log-format", "json", "create", "--bundle", str(b), "c1"]
    p = dash.run("--ptag-best-effort", *args, env={"REC_STATUS": "3"})
    assert p.returncode == 3  # the real runtime's status
    line = one_line(p.stderr)
    assert line.startswith("ptag-runtime: create c1: cannot set tag 'bad key'")
    assert line.endswith("; running runc untagged (best effort)")
    assert dash.argv("runc") == [str(runc), *args]
    (entry,) = log_entries(log)
    assert (entry["level"], entry["msg"]) == ("warning", line)
    # the environment variable asks the same; a bad value is an error
    (dash.rec / "runc.argv").unlink()
    p = dash.run(*args, env={"PTAG_RUNTIME_BEST_EFFORT": "1"})
    assert p.returncode == 0
    assert dash.argv("runc") == [str(runc), *args]
    (dash.rec / "runc.argv").unlink()
    p = dash.run(*args, env={"PTAG_RUNTIME_BEST_EFFORT": "maybe"})
    assert p.returncode == 125
    assert one_line(p.stderr) == (
        "ptag-runtime: PTAG_RUNTIME_BEST_EFFORT must be 1 or 0, not 'maybe'; see ptag-runtime(1)"
    )
    assert dash.argv("runc") is None


@no_ptags
def test_no_kernel_support_fails_closed(dash: Env) -> None:
    dash.recorder("runc")
    b = write_config(dash.tmp / "b", {"org.ptag.tag.team": "payments"})
    p = dash.run("create", "--bundle", str(b), "c1")
    assert p.returncode == 125
    assert one_line(p.stderr) == (
        "ptag-runtime: create c1: kernel lacks ptag support (boot a Linux kernel built "
        "with the ptag patch series and CONFIG_PTAG=y); runc not run "
        "(PTAG_RUNTIME_BEST_EFFORT=1 runs it untagged)"
    )
    assert dash.argv("runc") is None


@pytest.mark.parametrize(
    "args",
    [
        ["create", "--help"],
        ["run", "-h"],
        ["exec", "--help"],
        ["create"],  # no id: the real runtime says what is wrong
        ["exec", "-t"],
    ],
)
def test_nothing_to_tag_goes_to_the_runtime(dash: Env, args: list[str]) -> None:
    runc = dash.recorder("runc")
    p = dash.run("--ptag-best-effort", *args)
    assert (p.returncode, p.stderr) == (0, "")
    assert dash.argv("runc") == [str(runc), *args]


@no_ptags
@pytest.mark.parametrize("no_help", ["--help=false", "-h=0"])
def test_help_false_is_no_help(dash: Env, no_help: str) -> None:
    """runc reads --help=false as no help and creates the container: so it must be
    tagged, and here (no ptags) it fails closed instead of running untagged."""
    dash.recorder("runc")
    b = write_config(dash.tmp / "b", {})
    p = dash.run("create", no_help, "--bundle", str(b), "c1")
    assert p.returncode == 125
    assert "kernel lacks ptag support" in one_line(p.stderr)
    assert dash.argv("runc") is None


ENV_RECORDER = """\
#!/bin/sh
env > "$REC_DIR/runc.environ"
"""


@no_ptags
@pytest.mark.parametrize("user_value", [None, "1"])
def test_the_runtime_gets_the_callers_environment(dash: Env, user_value: str | None) -> None:
    """In the C locale, Python would coerce the locale by setting LC_CTYPE: the real
    runtime (and the hooks it runs) must not inherit that, nor the request not to."""
    write_exe(dash.bin / "runc", ENV_RECORDER)
    b = write_config(dash.tmp / "b", {})
    del dash.env["LC_ALL"]
    extra = {"LANG": "C", "PTAG_RUNTIME_BEST_EFFORT": "1"}
    if user_value is not None:
        extra["PYTHONCOERCECLOCALE"] = user_value
    p = dash.run("create", "--bundle", str(b), "c1", env=extra)
    assert p.returncode == 0, p.stderr
    got = dict(line.split("=", 1) for line in (dash.rec / "runc.environ").read_text().splitlines())
    # PYTHONCOERCECLOCALE=1, the caller's own: Python coerces, as asked
    assert ("LC_CTYPE" in got) == (user_value == "1")
    assert "PTAG_RUNTIME_NOCOERCE" not in got
    assert got.get("PYTHONCOERCECLOCALE") == user_value
    assert got["LANG"] == "C"
    assert got["PTAG_RUNTIME_ACTIVE"] == str(dash.bin / "runc")


def test_unwritable_log_still_reports(dash: Env) -> None:
    dash.recorder("runc")
    b = write_config(dash.tmp / "b", {"org.ptag.tag.": "x"})
    p = dash.run(
        "--log", str(dash.tmp / "no" / "such" / "dir" / "log"), "create", "-b", str(b), "c"
    )
    assert p.returncode == 125
    assert one_line(p.stderr).startswith("ptag-runtime: create c: annotation")


def test_usage_error_goes_to_the_log(dash: Env) -> None:
    dash.recorder("runc")
    log = dash.tmp / "log.json"
    p = dash.run("--log", str(log), "--log-format", "json", "create", "c1", "c2")
    assert p.returncode == 125
    (entry,) = log_entries(log)
    assert entry["msg"] == one_line(p.stderr)
    assert "expected one container id, got 2" in entry["msg"]


# --- the real runc -----------------------------------------------------------


@pytest.fixture
def runc_env(dash: Env) -> Iterator[Env]:
    """PTAG_RUNTIME=runc (Debian's) with its own --root; containers left behind are
    deleted."""
    if RUNC is None:
        pytest.fail("runc is not installed (tools/setup installs it)")
    dash.env["PTAG_RUNTIME"] = RUNC
    root = dash.tmp / "runc-root"
    yield dash
    if root.exists():
        for cid in os.listdir(root):
            subprocess.run([RUNC, "--root", str(root), "delete", "--force", cid], check=False)


def runc_args(e: Env, *args: str) -> list[str]:
    return ["--root", str(e.tmp / "runc-root"), *args]


def test_runc_log_format_matches_ours(runc_env: Env) -> None:
    """runc's own error line and ours, in its log file, have the same shape."""
    log = runc_env.tmp / "log.json"
    p = runc_env.run(*runc_args(runc_env, "--log", str(log), "--log-format", "json", "state", "x"))
    assert p.returncode != 0  # runc itself, passed through: no such container
    b = write_config(runc_env.tmp / "b", {"org.ptag.tag.": "x"})
    p = runc_env.run(
        *runc_args(runc_env, "--log", str(log), "--log-format", "json", "create", "-b", str(b), "c")
    )
    assert p.returncode == 125
    theirs, ours = log_entries(log)[-2:]
    assert theirs["level"] == ours["level"] == "error"
    assert set(theirs) == set(ours) == {"level", "msg", "time"}
    assert re.fullmatch(TIME, theirs["time"]) and re.fullmatch(TIME, ours["time"])
    text = runc_env.tmp / "log.txt"
    runc_env.run(*runc_args(runc_env, "--log", str(text), "state", "x"))
    runc_env.run(*runc_args(runc_env, "--log", str(text), "create", "-b", str(b), "c"))
    lines = text.read_text().splitlines()
    shape = f'time="{TIME}" level=error msg=".*"'
    assert re.fullmatch(shape, lines[-2]), lines[-2]
    assert re.fullmatch(shape, lines[-1]), lines[-1]


def test_runc_runs_through_the_wrapper(runc_env: Env) -> None:
    """run, state, kill, delete and exec through ptag-runtime with the real runc: the
    container runs (best effort where the kernel has no ptags), and exec finds it."""
    b = bundles.make_bundle(runc_env.tmp / "b", ["sleep", "600"])
    out = runc_env.tmp / "out"
    with open(out, "w") as f:
        started = subprocess.run(
            [
                *runc_env.shell,
                str(runc_env.front),
                "--ptag-best-effort",
                *runc_args(runc_env, "run", "-d", "--bundle", str(b), "web"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=f,
            env=dict(runc_env.env, PATH=":".join(runc_env.path)),
            timeout=120,
        )
    assert started.returncode == 0, out.read_text()
    if not ptag.supported():
        assert "kernel lacks ptag support" in out.read_text()
        assert "running runc untagged (best effort)" in out.read_text()
    p = runc_env.run(*runc_args(runc_env, "state", "web"))
    assert p.returncode == 0, p.stderr
    state = json.loads(p.stdout)
    assert (state["id"], state["status"]) == ("web", "running")
    # exec: finds the init through 'runc state' with the same --root
    p = runc_env.run(*runc_args(runc_env, "exec", "web", "touch", "/exec-ran"))
    if ptag.supported():
        assert p.returncode == 0, p.stderr
    else:
        assert p.returncode == 125
        assert one_line(p.stderr) == (
            "ptag-runtime: exec web: kernel lacks ptag support (boot a Linux kernel built "
            "with the ptag patch series and CONFIG_PTAG=y); runc not run "
            "(PTAG_RUNTIME_BEST_EFFORT=1 runs it untagged)"
        )
        assert not (b / "rootfs" / "exec-ran").exists()
        p = runc_env.run(
            "--ptag-best-effort", *runc_args(runc_env, "exec", "web", "touch", "/exec-ran")
        )
        assert p.returncode == 0, p.stderr
    assert (b / "rootfs" / "exec-ran").exists()
    p = runc_env.run(*runc_args(runc_env, "kill", "web", "KILL"))
    assert p.returncode == 0, p.stderr
    p = runc_env.run(*runc_args(runc_env, "delete", "--force", "web"))
    assert p.returncode == 0, p.stderr
    p = runc_env.run(*runc_args(runc_env, "state", "web"))
    assert p.returncode != 0


def test_runc_exec_unknown_container(runc_env: Env) -> None:
    log = runc_env.tmp / "log.json"
    p = runc_env.run(
        *runc_args(runc_env, "--log", str(log), "--log-format", "json", "exec", "nosuch", "true")
    )
    assert p.returncode == 125
    line = one_line(p.stderr)
    assert line.startswith("ptag-runtime: exec nosuch: cannot find container 'nosuch': ")
    assert "'runc state' exited 1" in line
    assert log_entries(log)[-1]["msg"] == line


def test_python_half_imports_only_its_own_modules() -> None:
    """ptag-runtime-py loads its modules and the mapping, none of the other commands'
    (nor typing, dataclasses, inspect): its start is on every create and exec."""
    code = (
        "import sys\n"
        "from ptag.cli import runtime\n"
        "runtime.main(['--front', 'ok', '/bin/true', '--ptag-version'])\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "libptag")),
    )
    assert p.returncode == 0, p.stderr
    loaded = set(p.stdout.split("\n")[-2].split())
    assert {"ptag.cli.runtime", "ptag.cli.runtime_args", "ptag._oci"} <= loaded
    for name in (
        "ptag.cli.oci_hook",
        "ptag.cli.ps",
        "ptag.cli.explain",
        "ptag.cli.exec",
        "ptag.cli.main",
        "typing",
        "dataclasses",
        "inspect",
        "subprocess",  # only exec needs it, and imports it then
    ):
        assert name not in loaded, name


# --- the reporting logic, with the kernel calls stood in for -------------------------
# (the kernel's side is proven in the VM: tests/runtimes; here, which tags a failure
# part-way names, and the overflow uid, which no test machine runs as)


def test_partial_names_only_the_tags_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure part-way on a tag this process already carries (its value cannot be
    read back: ENOMEM): only the new tag before it was set, not the one after it,
    which was never tried."""
    from ptag import Tag
    from ptag.cli import _common, runtime, runtime_args

    tried: list[str] = []

    def fake_set(self: object, key: str, value: str) -> None:
        tried.append(key)
        if key == "held":
            raise ptag.TagExistsError(17, "File exists")

    def fake_get(self: object, key: str) -> str:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(ptag, "supported", lambda: True)
    monkeypatch.setattr(ptag, "tags", lambda *a, **k: {"held": Tag("held", "v", 0)})
    monkeypatch.setattr(_common.Target, "set", fake_set)
    monkeypatch.setattr(_common.Target, "get", fake_get)
    settings = runtime.Settings(runtime_args.parse(["create", "c1"]), "/bin/runc", {})
    with pytest.raises(runtime.TagFailure) as info:
        runtime.tag_self([("a", "v"), ("held", "v"), ("c", "v")], settings)
    assert tried == ["a", "held"]
    assert info.value.partial == ("a",)
    assert str(info.value).startswith("cannot set tag 'held': ")


def test_overflow_uid_cannot_tell_owners(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every owner with no uid in the reader's namespace reads as the overflow uid:
    ptag-exec --from running as that uid refuses rather than copy them all."""
    from ptag import Tag
    from ptag.cli import _common
    from ptag.cli import exec as ptag_exec

    monkeypatch.setattr(os, "getuid", lambda: 65534)
    monkeypatch.setattr(_common, "overflow_uid", lambda: 65534)
    monkeypatch.setattr(ptag, "tags", lambda *a, **k: {"k": Tag("k", "v", 65534)})
    with pytest.raises(ptag_exec.ExecError) as info:
        ptag_exec.read_process_tags(42)
    assert str(info.value) == (
        "--from 42: ptag-exec runs as uid 65534, the overflow uid that stands for every "
        "owner with no uid here, so it cannot tell which tags are its own"
    )
