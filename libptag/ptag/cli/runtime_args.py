"""runc's command line, as ``ptag-runtime`` needs to read it: pure parsing, no I/O.

``RUNTIME [GLOBAL OPTIONS] COMMAND [COMMAND OPTIONS] [ID] [ARG]...``, as runc and
crun take it, plus ptag-runtime's own global options (``--ptag-*``), which are
taken out of the arguments given to the real runtime.  What the wrapper needs:
the command, the container id, the bundle and config file (create, run), the log
file and its format (to report an error where Docker and Podman look for it), and
the global options to repeat for ``state ID``.

Options that take a value are accepted both as ``--opt VALUE`` and ``--opt=VALUE``
(short ones as ``-o VALUE`` and ``-oVALUE``).  ``create`` and ``run`` parse options
on either side of the id, as runc and crun do; for ``exec`` the first non-option is
the id and the rest is the command to run, untouched.
"""

from __future__ import annotations

from ptag._types import _Frozen

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from collections.abc import Sequence

#: Global options of runc and crun that take a value.
GLOBAL_VALUE = frozenset(
    ("--root", "--log", "--log-format", "--log-level", "--criu", "--rootless", "--cgroup-manager")
)
#: Global options that print something and exit: the command does not run.
GLOBAL_INFO = frozenset(("--help", "-h", "--version", "-v", "-V", "-?", "--usage"))

#: ptag-runtime's own global options (removed before the real runtime runs).
PTAG_VALUE = frozenset(
    ("--ptag-runtime", "--ptag-runtime-name", "--ptag-key-prefix", "--ptag-annotation-prefix")
)
PTAG_FLAG = frozenset(("--ptag-best-effort", "--ptag-help", "--ptag-version"))

#: The commands the wrapper acts on; every other one is passed through.
TAGGING = ("create", "run", "exec")

_HELP = frozenset(("--help", "-h", "-?", "--usage"))


class Spec:
    """The options of one command: which take a value, which do not."""

    __slots__ = ("long_flag", "long_value", "short_flag", "short_value")

    def __init__(self, long_value: str, short_value: str, long_flag: str, short_flag: str) -> None:
        self.long_value = frozenset("--" + o for o in long_value.split())
        self.short_value = frozenset(short_value)
        self.long_flag = frozenset("--" + o for o in long_flag.split()) | _HELP
        self.short_flag = frozenset(short_flag) | {"h", "?"}


#: create and run (runc 1.1-1.2 and crun 1.8-1.19): -b/--bundle, crun's -f/--config.
CREATE = Spec(
    "bundle console-socket pidfd-socket pid-file preserve-fds config",
    "bf",
    "detach keep no-subreaper no-pivot no-new-keyring",
    "d",
)
#: exec.
EXEC = Spec(
    "process console-socket pidfd-socket cwd env user additional-gids cap pid-file "
    "process-label apparmor preserve-fds cgroup",
    "peucg",
    "detach tty no-new-privs ignore-paused",
    "dt",
)


class ArgsError(Exception):
    """A command line ptag-runtime cannot act on; ``log``/``log_format`` are what was
    read of ``--log``/``--log-format`` before the error, to report it there too."""

    def __init__(self, message: str, log: str | None, log_format: str | None) -> None:
        super().__init__(message)
        self.log = log
        self.log_format = log_format


class Invocation(_Frozen):
    """What one command line asks the runtime to do.

    ``argv``: the arguments for the real runtime (after its name), ptag-runtime's
    own options removed, otherwise unchanged; ``global_args``: those of them before
    the command; ``command``: None when there is none (or a global ``--help`` or
    ``--version`` comes first); ``cid``: the container id, None when not given;
    ``bundle``, ``config``: create's and run's, None when not given; ``help``: the
    command was asked for its help; ``ptag``: ptag-runtime's own options, name
    (without ``--ptag-``) to value (``""`` for a flag), the last one winning.
    """

    _FIELDS = (
        "argv",
        "global_args",
        "command",
        "cid",
        "bundle",
        "config",
        "log",
        "log_format",
        "root",
        "help",
        "ptag",
    )
    __slots__ = _FIELDS
    argv: tuple[str, ...]
    global_args: tuple[str, ...]
    command: str | None
    cid: str | None
    bundle: str | None
    config: str | None
    log: str | None
    log_format: str | None
    root: str | None
    help: bool
    ptag: dict[str, str]

    def __init__(
        self,
        argv: tuple[str, ...],
        global_args: tuple[str, ...],
        command: str | None,
        cid: str | None,
        bundle: str | None,
        config: str | None,
        log: str | None,
        log_format: str | None,
        root: str | None,
        help: bool,
        ptag: dict[str, str],
    ) -> None:
        self._init(
            argv, global_args, command, cid, bundle, config, log, log_format, root, help, ptag
        )


def parse(args: Sequence[str]) -> Invocation:
    """Parse a runtime command line (without the program name); ArgsError if
    ptag-runtime cannot tell what it asks (a bad ``--ptag-*`` option, a missing
    option value, two ids for create/run, an unknown option before exec's id)."""
    args = list(args)
    kept: list[str] = []
    ptag: dict[str, str] = {}
    values: dict[str, str] = {}
    log: str | None = None
    log_format: str | None = None
    i = 0
    command: str | None = None
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-") or arg == "-":
            command = arg
            break
        if arg in GLOBAL_INFO:
            break
        name, eq, value = arg.partition("=")
        if name in PTAG_VALUE or name in GLOBAL_VALUE:
            if not eq:
                if i + 1 >= len(args):
                    raise ArgsError(f"option '{name}' requires an argument", log, log_format)
                i += 1
                value = args[i]
            if name in PTAG_VALUE:
                ptag[name[len("--ptag-") :]] = value
            else:
                values[name] = value
                log = values.get("--log")
                log_format = values.get("--log-format")
                kept.extend((name, value) if not eq else (arg,))
        elif name in PTAG_FLAG:
            if eq:
                raise ArgsError(f"option '{name}' doesn't allow an argument", log, log_format)
            ptag[name[len("--ptag-") :]] = ""
        elif name.startswith("--ptag-"):
            raise ArgsError(f"unrecognized option '{name}'", log, log_format)
        else:
            kept.append(arg)  # a flag: --debug, --systemd-cgroup, or one we do not know
        i += 1
    global_args = tuple(kept)
    rest = args[i:]
    kept.extend(rest)
    cid = bundle = config = None
    help = False
    if command in ("create", "run"):
        cid, bundle, config, help = _parse_create(rest[1:], command, log, log_format)
    elif command == "exec":
        cid, help = _parse_exec(rest[1:], log, log_format)
    return Invocation(
        tuple(kept),
        global_args,
        command,
        cid,
        bundle,
        config,
        log,
        log_format,
        values.get("--root"),
        help,
        ptag,
    )


def _take(
    args: Sequence[str], i: int, spec: Spec, command: str, log: str | None, fmt: str | None
) -> tuple[int, str | None, str | None, bool, bool]:
    """Read the option at ``args[i]``: (next index, option name, value or None,
    help asked, known).  Long ``--x=v`` and short ``-xV`` carry their value."""
    arg = args[i]
    if arg.startswith("--"):
        name, eq, value = arg.partition("=")
        if name in spec.long_value:
            if eq:
                return i + 1, name, value, False, True
            if i + 1 >= len(args):
                raise ArgsError(f"{command}: option '{name}' requires an argument", log, fmt)
            return i + 2, name, args[i + 1], False, True
        return i + 1, name, None, name in _HELP, name in spec.long_flag or bool(eq)
    # short options, possibly clustered (-dt, -bDIR)
    j = 1
    help = False
    while j < len(arg):
        c = arg[j]
        if c in spec.short_value:
            if j + 1 < len(arg):
                return i + 1, "-" + c, arg[j + 1 :], help, True
            if i + 1 >= len(args):
                raise ArgsError(f"{command}: option '-{c}' requires an argument", log, fmt)
            return i + 2, "-" + c, args[i + 1], help, True
        if c not in spec.short_flag:
            return i + 1, "-" + c, None, help, False
        help = help or c in "h?"
        j += 1
    return i + 1, arg, None, help, True


def _parse_create(
    args: Sequence[str], command: str, log: str | None, fmt: str | None
) -> tuple[str | None, str | None, str | None, bool]:
    """create/run options, on either side of the id: (id, bundle, config, help)."""
    positional: list[str] = []
    bundle = config = None
    help = False
    unknown: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            positional.extend(args[i + 1 :])
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            i += 1
            continue
        i, name, value, asked, known = _take(args, i, CREATE, command, log, fmt)
        help = help or asked
        if not known and unknown is None:
            unknown = name
        if name in ("--bundle", "-b"):
            bundle = value
        elif name in ("--config", "-f"):
            config = value
    if len(positional) > 1:
        why = (
            f" (does the unknown option '{unknown}' take a value? give it as {unknown}=VALUE)"
            if unknown
            else ""
        )
        raise ArgsError(
            f"{command}: expected one container id, got {len(positional)}: "
            + " ".join(f"'{p}'" for p in positional)
            + why,
            log,
            fmt,
        )
    return (positional[0] if positional else None), bundle, config, help


def _parse_exec(args: Sequence[str], log: str | None, fmt: str | None) -> tuple[str | None, bool]:
    """exec options up to the id, which is the first non-option: (id, help)."""
    i = 0
    help = False
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return (args[i + 1] if i + 1 < len(args) else None), help
        if not arg.startswith("-") or arg == "-":
            return arg, help
        i, name, _value, asked, known = _take(args, i, EXEC, "exec", log, fmt)
        help = help or asked
        if not known:
            raise ArgsError(
                f"exec: unknown option '{name}': ptag-runtime cannot tell whether it takes a "
                f"value, so which word is the container id (give it as {name}=VALUE if it does)",
                log,
                fmt,
            )
    return None, help
