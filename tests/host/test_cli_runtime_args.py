"""``ptag-runtime``'s reading of runc's command line (ptag.cli.runtime_args): every
command form Docker, containerd, Podman (conmon) and CRI-O use, and the errors."""

from __future__ import annotations

import pytest

from ptag.cli import runtime_args
from ptag.cli.runtime_args import ArgsError, parse

CID = "4f1e0c8d2b7a" + "0" * 52


def test_docker_create() -> None:
    """containerd's runc shim (go-runc): global options, then create's, id last."""
    argv = [
        "--root",
        "/run/containerd/runc/moby",
        "--log",
        "/run/containerd/io.containerd.runtime.v2.task/moby/" + CID + "/log.json",
        "--log-format",
        "json",
        "--systemd-cgroup",
        "create",
        "--bundle",
        "/run/containerd/io.containerd.runtime.v2.task/moby/" + CID,
        "--pid-file",
        "/run/x/init.pid",
        "--console-socket",
        "/tmp/pty.sock",
        CID,
    ]
    inv = parse(argv)
    assert inv.command == "create"
    assert inv.cid == CID
    assert inv.bundle == "/run/containerd/io.containerd.runtime.v2.task/moby/" + CID
    assert inv.log == argv[3]
    assert inv.log_format == "json"
    assert inv.root == "/run/containerd/runc/moby"
    assert inv.argv == tuple(argv)
    assert inv.global_args == tuple(argv[:7])
    assert not inv.help
    assert inv.ptag == {}


def test_equals_forms_and_short_options() -> None:
    inv = parse(["--root=/r", "--log=/l", "--log-format=text", "run", "-d", "-b/bundle", "c1"])
    assert (inv.root, inv.log, inv.log_format, inv.bundle, inv.cid) == (
        "/r",
        "/l",
        "text",
        "/bundle",
        "c1",
    )
    assert inv.global_args == ("--root=/r", "--log=/l", "--log-format=text")
    inv = parse(["run", "--bundle=/b", "--detach", "--keep", "--no-pivot", "c2"])
    assert (inv.bundle, inv.cid) == ("/b", "c2")
    inv = parse(["create", "-b", "/b", "--no-new-keyring", "--preserve-fds", "3", "c3"])
    assert (inv.bundle, inv.cid) == ("/b", "c3")


def test_create_options_after_the_id() -> None:
    """runc (urfave/cli) and crun (argp) both permute create's and run's options."""
    inv = parse(["create", "c1", "--bundle", "/b", "--pid-file", "/p"])
    assert (inv.cid, inv.bundle) == ("c1", "/b")


def test_podman_conmon_create() -> None:
    """conmon: crun --root ... [--systemd-cgroup] create --bundle B --pid-file P
    [--no-new-keyring] [--console-socket S] ID; crun's -f/--config too."""
    inv = parse(
        [
            "--root",
            "/run/crun",
            "--log-level=error",
            "--cgroup-manager",
            "cgroupfs",
            "create",
            "--bundle",
            "/var/lib/containers/b",
            "--config",
            "alt.json",
            "--pid-file",
            "/run/p",
            "--no-new-keyring",
            CID,
        ]
    )
    assert (inv.command, inv.cid, inv.bundle, inv.config) == (
        "create",
        CID,
        "/var/lib/containers/b",
        "alt.json",
    )
    assert inv.global_args == (
        "--root",
        "/run/crun",
        "--log-level=error",
        "--cgroup-manager",
        "cgroupfs",
    )


def test_no_bundle_means_cwd() -> None:
    inv = parse(["run", "c1"])
    assert (inv.bundle, inv.config, inv.cid) == (None, None, "c1")


@pytest.mark.parametrize(
    ("argv", "cid"),
    [
        (["exec", "c1", "sh", "-c", "echo --bundle x"], "c1"),
        (["exec", "-t", "c1", "sh"], "c1"),
        (["exec", "--tty", "--detach", "c1", "sh"], "c1"),
        (["exec", "-dt", "c1", "sh"], "c1"),
        (["exec", "--process", "/tmp/p.json", "--detach", "c1"], "c1"),
        (["exec", "-p", "/tmp/p.json", "c1"], "c1"),
        (["exec", "-p/tmp/p.json", "c1"], "c1"),
        (["exec", "--console-socket", "/s", "--cwd", "/", "c1", "ls"], "c1"),
        (["exec", "-e", "A=1", "--env", "B=2", "--env=C=3", "c1", "env"], "c1"),
        (["exec", "-u", "1000:1000", "--user", "0", "c1", "id"], "c1"),
        (["exec", "--cap", "CAP_KILL", "-c", "CAP_CHOWN", "c1", "true"], "c1"),
        (["exec", "--pid-file", "/p", "--process-label", "l", "--apparmor", "a", "c1", "x"], "c1"),
        (["exec", "--preserve-fds", "2", "--cgroup", "sub", "--no-new-privs", "c1", "x"], "c1"),
        (["exec", "-g", "10", "--additional-gids", "11", "--ignore-paused", "c1", "x"], "c1"),
        (["exec", "--", "c1", "ls"], "c1"),
        (["exec", "c1", "--", "ls", "-l"], "c1"),
        (["exec", "c1", "--env", "X"], "c1"),  # after the id: the command's
    ],
)
def test_exec_forms(argv: list[str], cid: str) -> None:
    inv = parse(["--root", "/run/runc", *argv])
    assert inv.command == "exec"
    assert inv.cid == cid
    assert inv.argv == ("--root", "/run/runc", *argv)
    assert inv.global_args == ("--root", "/run/runc")


def test_containerd_exec() -> None:
    """go-runc's exec: --process FILE --detach --pid-file P [--console-socket S] ID."""
    inv = parse(
        [
            "--root",
            "/run/containerd/runc/k8s.io",
            "--log",
            "/run/l.json",
            "--log-format",
            "json",
            "exec",
            "--process",
            "/tmp/runc-process123",
            "--detach",
            "--pid-file",
            "/run/exec.pid",
            CID,
        ]
    )
    assert (inv.command, inv.cid, inv.log_format) == ("exec", CID, "json")


@pytest.mark.parametrize(
    "argv",
    [
        ["state", "c1"],
        ["start", "c1"],
        ["kill", "c1", "KILL"],
        ["kill", "--all", "c1", "9"],
        ["delete", "--force", "c1"],
        ["features"],
        ["ps", "--format", "json", "c1"],
        ["list"],
        ["pause", "c1"],
        ["update", "--memory", "1M", "c1"],
        ["checkpoint", "--image-path", "/x", "c1"],
    ],
)
def test_other_commands_are_not_read(argv: list[str]) -> None:
    inv = parse(["--debug", *argv])
    assert inv.command == argv[0]
    assert (inv.cid, inv.bundle) == (None, None)
    assert inv.argv == ("--debug", *argv)


@pytest.mark.parametrize("info", ["--version", "-v", "-V", "--help", "-h", "-?", "--usage"])
def test_global_info_options_mean_no_command(info: str) -> None:
    inv = parse(["--root", "/r", info, "create", "x"])
    assert inv.command is None
    assert inv.argv == ("--root", "/r", info, "create", "x")


@pytest.mark.parametrize("flag", ["--help", "-h", "-?", "--usage"])
def test_command_help(flag: str) -> None:
    assert parse(["create", flag]).help
    assert parse(["exec", flag]).help
    assert not parse(["exec", "c1", flag]).help  # the command's own option


def test_ptag_options_are_removed() -> None:
    inv = parse(
        [
            "--ptag-runtime",
            "/usr/bin/crun",
            "--root",
            "/r",
            "--ptag-best-effort",
            "--ptag-key-prefix=inner.",
            "--ptag-annotation-prefix",
            "",
            "--ptag-runtime-name=podman",
            "run",
            "c1",
        ]
    )
    assert inv.argv == ("--root", "/r", "run", "c1")
    assert inv.global_args == ("--root", "/r")
    assert inv.ptag == {
        "runtime": "/usr/bin/crun",
        "best-effort": "",
        "key-prefix": "inner.",
        "annotation-prefix": "",
        "runtime-name": "podman",
    }


def test_ptag_options_only_before_the_command() -> None:
    inv = parse(["exec", "c1", "prog", "--ptag-best-effort"])
    assert inv.ptag == {}
    assert inv.argv == ("exec", "c1", "prog", "--ptag-best-effort")


def test_unknown_global_flag_is_kept() -> None:
    inv = parse(["--some-new-flag", "create", "c1"])
    assert (inv.command, inv.cid, inv.argv) == ("create", "c1", ("--some-new-flag", "create", "c1"))


def test_go_style_single_dash_globals() -> None:
    """runc's -root DIR (Go's flags take one dash or two): the same to crun."""
    inv = parse(["-root", "/r", "-log=/l", "exec", "c1", "ls"])
    assert (inv.command, inv.cid, inv.root, inv.log) == ("exec", "c1", "/r", "/l")
    assert inv.global_args == ("-root", "/r", "-log=/l")


@pytest.mark.parametrize(
    ("argv", "cid", "help"),
    [
        (["create", "--help=false", "--bundle", "/b", "c1"], "c1", False),
        (["create", "--help=true", "c1"], "c1", True),
        (["run", "-h=0", "c1"], "c1", False),
        (["exec", "-h=false", "c1", "ls"], "c1", False),
        (["exec", "--help=T", "c1", "ls"], "c1", True),
    ],
)
def test_help_is_a_boolean(argv: list[str], cid: str, help: bool) -> None:
    """runc's --help=false asks for no help: the command runs, and must be tagged."""
    inv = parse(argv)
    assert (inv.cid, inv.help) == (cid, help)


def test_unknown_global_flag_after_a_passthrough_word_is_fine() -> None:
    inv = parse(["--some-new-flag", "state", "c1"])
    assert (inv.command, inv.cid) == ("state", None)


BAD: list[tuple[list[str], str]] = [
    (["--ptag-bogus", "create", "c1"], "unrecognized option '--ptag-bogus'"),
    (["--ptag-best-effort=1", "create", "c1"], "option '--ptag-best-effort' doesn't allow"),
    (["--ptag-runtime"], "option '--ptag-runtime' requires an argument"),
    (["--root"], "option '--root' requires an argument"),
    (["create", "--bundle"], "create: option '--bundle' requires an argument"),
    (["run", "-b"], "run: option '-b' requires an argument"),
    (["exec", "-p"], "exec: option '-p' requires an argument"),
    (["create", "c1", "c2"], "create: expected one container id, got 2: 'c1' 'c2'"),
    (
        ["create", "--new-thing", "v", "c1"],
        "does the unknown option '--new-thing' take a value? give it as --new-thing=VALUE",
    ),
    (["exec", "--new-thing", "c1", "sh"], "exec: unknown option '--new-thing'"),
    (["exec", "-Z", "c1", "sh"], "exec: unknown option '-Z'"),
    # where runc and crun would read the words differently: refused, never guessed
    (
        ["create", "--help=maybe", "c1"],
        "create: option '--help' takes no value but true or false, not 'maybe'",
    ),
    (
        ["exec", "-user", "0", "c1", "ls"],
        "exec: option '-user': runc reads it as '--user', crun as short options; write '--user'",
    ),
    (["create", "-bundle", "/b", "c1"], "create: option '-bundle': runc reads it as '--bundle'"),
    (
        ["create", "-b=/b", "c1"],
        "create: option '-b=/b': runc reads its value as '/b', crun as '=/b'; write '-b /b' "
        "or '-b/b'",
    ),
    (
        ["create", "--bund=/b", "c1"],
        "create: option '--bund': crun reads it as '--bundle', runc does not know it; "
        "write '--bundle'",
    ),
    (
        ["exec", "--pid", "/p", "c1", "ls"],
        "exec: option '--pid': an abbreviation of --pid-file, --pidfd-socket (crun refuses "
        "it as ambiguous, runc does not know it); write one in full",
    ),
    (
        ["--cgroup", "cgroupfs", "create", "c1"],
        "global option '--cgroup': crun reads it as '--cgroup-manager', runc does not know it; "
        "write '--cgroup-manager'",
    ),
    (
        ["--ro", "/x", "create", "c1"],
        "global option '--ro': an abbreviation of --root, --rootless (crun refuses it as "
        "ambiguous, runc does not know it); write one in full",
    ),
    (
        # crun reads --roo as --root, and so exec as --root's value: refused, though
        # the command parse() would pick is the id
        ["--roo", "--root", "exec", "IDX", "sh"],
        "global option '--roo': an abbreviation of --root, --rootless",
    ),
    (
        ["--new-global", "/x", "exec", "c1", "ls"],
        "unknown global option '--new-global': ptag-runtime cannot tell whether it takes a "
        "value, so which word is the command (give it as --new-global=VALUE if it does)",
    ),
]


@pytest.mark.parametrize(("argv", "message"), BAD)
def test_bad_command_lines(argv: list[str], message: str) -> None:
    with pytest.raises(ArgsError) as info:
        parse(["--log", "/l", "--log-format", "json", *argv])
    assert message in str(info.value)
    assert (info.value.log, info.value.log_format) == ("/l", "json")


def test_unknown_option_with_value_attached_is_fine() -> None:
    inv = parse(["create", "--new-thing=v", "c1"])
    assert inv.cid == "c1"
    inv = parse(["exec", "--new-thing=v", "c1", "sh"])
    assert inv.cid == "c1"


def test_tables_cover_the_brief() -> None:
    """Every option of runc 1.1 and crun 1.8 that takes a value is in the tables."""
    for opt in ("bundle", "console-socket", "pid-file", "preserve-fds", "config"):
        assert "--" + opt in runtime_args.CREATE.long_value
    for opt in [
        "process",
        "console-socket",
        "cwd",
        "env",
        "user",
        "cap",
        "pid-file",
        "process-label",
        "apparmor",
        "preserve-fds",
        "cgroup",
    ]:
        assert "--" + opt in runtime_args.EXEC.long_value
    for opt in ("root", "log", "log-format", "criu", "rootless"):
        assert "--" + opt in runtime_args.GLOBAL_VALUE
