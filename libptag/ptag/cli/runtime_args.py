"""runc's command line, as ``ptag-runtime`` needs to read it: pure parsing, no I/O.

``RUNTIME [GLOBAL OPTIONS] COMMAND [COMMAND OPTIONS] [ID] [ARG]...``, as runc and
crun take it, plus ptag-runtime's own global options (``--ptag-*``), which are
taken out of the arguments given to the real runtime.  What the wrapper needs:
the command, the container id, the bundle and config file (create, run), the log
file and its format (to report an error where Docker and Podman look for it), and
the global options to repeat for ``state ID``.

Options that take a value are accepted both as ``--opt VALUE`` and ``--opt=VALUE``
(short ones as ``-o VALUE`` and ``-oVALUE``).  ``create`` and ``run`` parse options
on either side of the id, as runc does (crun takes them before it only); for
``exec`` the first non-option is the id and the rest is the command to run,
untouched.

Where runc (Go's flag rules) and crun (argp's) would read one word differently, the
wrapper cannot know which reading the real runtime will make, so it refuses the
command line (fail closed) and says how to spell it for both: a known long option
with one dash (``-bundle``: runc's ``--bundle``, crun's ``-b undle``), a short
option's value after ``=`` (``-b=DIR``), an abbreviated long option (``--bund``:
crun's ``--bundle``, an error for runc), and, when the first word after the global
options is not create, run or exec but one of them comes later, an unknown global
option without ``=VALUE`` (did it take the next word as its value?).  runc's global
options with one dash (``-root DIR``) are read as runc reads them (crun refuses
them, so nothing runs).  A command's ``--help=false`` is a boolean, as in runc:
it asks for no help.
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
#: Global options of runc and crun that take none.
GLOBAL_FLAG = frozenset(("--debug", "--systemd-cgroup"))
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
    unknown: list[tuple[str, bool]] = []
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
        if not name.startswith("--") and "-" + name in GLOBAL_VALUE | GLOBAL_FLAG:
            name = "-" + name  # runc's -root DIR: Go's flags take one dash or two
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
                kept.extend((arg, value) if not eq else (arg,))
        elif name in PTAG_FLAG:
            if eq:
                raise ArgsError(f"option '{name}' doesn't allow an argument", log, log_format)
            ptag[name[len("--ptag-") :]] = ""
        elif name.startswith("--ptag-"):
            raise ArgsError(f"unrecognized option '{name}'", log, log_format)
        else:
            if name not in GLOBAL_FLAG and not _bool_help(name, eq, value):
                unknown.append((name, bool(eq)))
            kept.append(arg)  # a flag: --debug, --systemd-cgroup, or one we do not know
        i += 1
    global_args = tuple(kept)
    rest = args[i:]
    if command not in TAGGING and any(w in TAGGING for w in args):
        # every word, as the sh front looks: an unknown option may also have made a
        # known one take create, run or exec as its value
        _check_unknown_globals(unknown, log, log_format)
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


#: Go's strconv.ParseBool, which runc's boolean flags (--help=false) use.
_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
_FALSE = frozenset(("0", "f", "F", "FALSE", "false", "False"))


def _bool_help(name: str, eq: str, value: str) -> bool:
    """``--help=VALUE`` (or ``-h=VALUE``): a boolean in runc, so not an unknown option."""
    return bool(eq) and name in _HELP and (value in _TRUE or value in _FALSE)


def _help_value(name: str, value: str, command: str, log: str | None, fmt: str | None) -> bool:
    """Whether ``NAME=VALUE`` asks for help, as runc reads it; ArgsError if VALUE is
    no boolean."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ArgsError(
        f"{command}: option '{name}' takes no value but true or false, not '{value}'", log, fmt
    )


def _abbreviates(name: str, longs: frozenset[str]) -> list[str]:
    """The long options that *name* (``--xy``) is a shorter prefix of: crun (argp)
    accepts unique abbreviations, runc does not."""
    if len(name) < 3 or not name.startswith("--"):
        return []
    return sorted(o for o in longs if o.startswith(name) and o != name)


def _abbreviation(name: str, full: Sequence[str]) -> str:
    """The rest of the message about the abbreviated option *name* of *full*."""
    if len(full) == 1:
        return f"'{name}': crun reads it as '{full[0]}', runc does not know it; write '{full[0]}'"
    return (
        f"'{name}': an abbreviation of {', '.join(full)} (crun refuses it as ambiguous, runc "
        "does not know it); write one in full"
    )


def _check_unknown_globals(
    unknown: Sequence[tuple[str, bool]], log: str | None, fmt: str | None
) -> None:
    """The first word after the global options is no create, run or exec, but one
    comes later: refuse an unknown option without ``=VALUE`` that may have taken the
    word after it as its value, so that the command is not create, run or exec to
    ptag-runtime and is to the real runtime (which would then run untagged)."""
    for name, eq in unknown:
        if eq:
            continue
        full = _abbreviates(name, GLOBAL_VALUE | GLOBAL_FLAG)
        if full:
            raise ArgsError(f"global option {_abbreviation(name, full)}", log, fmt)
        raise ArgsError(
            f"unknown global option '{name}': ptag-runtime cannot tell whether it takes a "
            f"value, so which word is the command (give it as {name}=VALUE if it does)",
            log,
            fmt,
        )


def _take(
    args: Sequence[str], i: int, spec: Spec, command: str, log: str | None, fmt: str | None
) -> tuple[int, str | None, str | None, bool, bool]:
    """Read the option at ``args[i]``: (next index, option name, value or None,
    help asked, known).  Long ``--x=v`` and short ``-xV`` carry their value.
    ArgsError where runc and crun would read it differently."""
    arg = args[i]
    longs = spec.long_value | spec.long_flag
    if arg.startswith("--"):
        name, eq, value = arg.partition("=")
        if name in spec.long_value:
            if eq:
                return i + 1, name, value, False, True
            if i + 1 >= len(args):
                raise ArgsError(f"{command}: option '{name}' requires an argument", log, fmt)
            return i + 2, name, args[i + 1], False, True
        if name in _HELP and eq:
            return i + 1, name, None, _help_value(name, value, command, log, fmt), True
        full = _abbreviates(name, longs)
        if full:
            raise ArgsError(f"{command}: option {_abbreviation(name, full)}", log, fmt)
        return i + 1, name, None, name in _HELP, name in spec.long_flag or bool(eq)
    name, eq, value = arg.partition("=")
    if len(name) > 2 and "-" + name in longs:
        raise ArgsError(
            f"{command}: option '{name}': runc reads it as '-{name}', crun as short options; "
            f"write '-{name}'",
            log,
            fmt,
        )
    if eq and len(name) == 2 and name[1] in "h?":
        return i + 1, name, None, _help_value(name, value, command, log, fmt), True
    if eq and len(name) == 2 and name[1] in spec.short_value:
        raise ArgsError(
            f"{command}: option '{arg}': runc reads its value as '{value}', crun as "
            f"'={value}'; write '{name} {value}' or '{name}{value}'",
            log,
            fmt,
        )
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
