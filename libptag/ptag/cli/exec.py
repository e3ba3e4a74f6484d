"""``ptag-exec``: set tags on itself, then execute a command.

``ptag-exec [-t|--tag KEY=VALUE]... [--tags-from FILE|-] [--from PID]...
[--exist-ok] [--] COMMAND [ARG]...``

Option parsing stops at the first non-option, as with ``setpriv``,
``unshare`` and ``nsenter``, so COMMAND's own options need no ``--``.
``--from PID`` copies the tags of a running process that are owned by this
process's real uid (``lxc-attach``, ``nsenter`` wrappers: the command joins a
container and carries its tags); a copied tag that this process already carries
with the same value is accepted.
Every tag is checked before the first is set; if the kernel refuses one
part-way, the tags already set cannot be undone (tags are never removed),
so ptag-exec fails closed: it reports the tag and exits 125 without running
COMMAND.  Exit statuses follow env(1): 125 for ptag-exec's own failures, 126
when COMMAND cannot run, 127 when it is not found, else COMMAND's status.
"""

from __future__ import annotations

import errno
import getopt
import os
import sys

import ptag

from . import _common

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from collections.abc import Sequence

PROG = "ptag-exec"
EXIT_FAILURE = 125
EXIT_CANNOT_INVOKE = 126
EXIT_ENOENT = 127

USAGE = f"""\
Usage:
 {PROG} [options] [--] COMMAND [ARG]...

Set process tags on itself, then execute COMMAND: COMMAND and everything it
starts carry the tags, and nobody can change or remove them.

Options:
 -t, --tag KEY=VALUE      set tag KEY to VALUE (repeatable)
     --tags-from FILE     read tags from FILE, '-' for stdin (repeatable)
     --from PID           copy the tags of process PID that your uid set
                          (repeatable)
     --exist-ok           accept a tag already set to the same value
 -h, --help               display this help
 -V, --version            display version

Option parsing stops at the first non-option argument; '--' also ends it.

--tags-from reads one KEY=VALUE a line; the value runs to the end of the
line, spaces included.  Blank lines and lines whose first non-blank
character is '#' are ignored.  Tags from files, processes and -t are set in
the order they appear on the command line.

--from PID copies the tags of a running process, oldest first, for commands
that join it (lxc-attach, nsenter): ptag-exec --from 1234 -- nsenter -t 1234 -a
Only the tags owned by your real uid are copied: a copy is yours, so copying
another user's tag would put your name to it.  A copied tag this process
already carries with the same value is accepted.

A KEY is 1-64 bytes of A-Z a-z 0-9 . _ / : - starting with a letter or digit;
a VALUE is up to 256 bytes without control characters.  Every tag is
checked before any is set.  A tag that is already set can never be changed:
--exist-ok accepts it only when the value is the same.

Exit status:
 125  ptag-exec itself failed (bad option, invalid or refused tag, kernel
      without ptag support, no COMMAND, a --from process that is gone);
      COMMAND was not run
 126  COMMAND was found but could not be executed
 127  COMMAND was not found
 otherwise the exit status of COMMAND
"""


class ExecError(Exception):
    """A reason for exit 125, already worded as the whole message."""


class Options:
    """What a ptag-exec command line asks for."""

    __slots__ = ("command", "copied", "exist_ok", "help", "tags", "version")

    def __init__(self, command: list[str] | None = None) -> None:
        self.tags: list[tuple[str, str, str]] = []  # key, value, origin
        self.copied: set[tuple[str, str]] = set()  # (key, value) pairs from --from
        self.exist_ok = False
        self.command: list[str] = [] if command is None else command
        self.help = False
        self.version = False


def _split(item: str, origin: str) -> tuple[str, str, str]:
    try:
        key, value = _common.split_assignment(item)
    except ValueError as exc:
        raise ExecError(f"cannot set tag '{item}': {exc}{origin}") from None
    return key, value, origin


def read_tags_file(name: str, stdin_used: bool) -> list[tuple[str, str, str]]:
    """Parse a --tags-from file (``-``: stdin) into (key, value, origin)."""
    label = "stdin" if name == "-" else name
    try:
        if name == "-":
            if stdin_used:
                raise ExecError("--tags-from - given more than once")
            stream = getattr(sys.stdin, "buffer", None)
            if stream is None:
                raise ExecError("cannot read tags from stdin: stdin is closed")
            data: bytes = stream.read()
        else:
            with open(name, "rb") as f:
                data = f.read()
    except OSError as exc:
        raise ExecError(f"cannot read '{label}': {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExecError(f"cannot read '{label}': not valid UTF-8 (byte {exc.start})") from None
    out: list[tuple[str, str, str]] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if line.endswith("\r"):
            line = line[:-1]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        out.append(_split(line, f" ({label}:{lineno})"))
    return out


def parse_from_pid(text: str) -> int:
    """A --from argument: a positive decimal PID; ExecError otherwise."""
    t = text.strip()
    if not t.isascii() or not t.isdigit() or not 0 < int(t) <= 2**31 - 1:
        raise ExecError(f"--from: invalid PID '{text}'; try '{PROG} --help' for more information")
    return int(t)


def read_process_tags(pid: int) -> list[tuple[str, str, str]]:
    """The tags of process *pid* that this process can copy faithfully, oldest first,
    as (key, value, origin): those whose owner is this process's real uid, since a
    copy is owned by the copier (root copying a tag that a container's user set would
    turn it into root's word).  Read through a pidfd, so a PID reused meanwhile cannot
    answer instead.  ExecError if the process is gone, its tags cannot be read, or it
    has tags but none of this uid; NotSupportedError propagates."""
    try:
        found = ptag.tags(pid)
    except ptag.NotSupportedError:
        raise
    except ptag.TagProcessLookupError:
        raise ExecError(f"--from {pid}: no such process") from None
    except OSError as exc:
        raise ExecError(f"--from {pid}: cannot read its tags: {_common.reason(exc)}") from None
    if not found:
        return []
    own = _common.copyable(found)
    if own is None:
        raise ExecError(
            f"--from {pid}: ptag-exec runs as uid {os.getuid()}, the overflow uid that "
            "stands for every owner with no uid here, so it cannot tell which tags are its own"
        )
    uid, pairs = own
    mine = [(k, v, f" (from PID {pid})") for k, v in pairs]
    if not mine:
        owners = ", ".join(str(o) for o in sorted({t.owner for t in found.values()}))
        raise ExecError(
            f"--from {pid}: none of its {len(found)} tags is owned by uid {uid} (owners: "
            f"{owners}), and a copy would be uid {uid}'s; run ptag-exec as the tags' owner"
        )
    return mine


def parse_args(argv: Sequence[str]) -> Options:
    """getopt (not gnu_getopt): stops at the first non-option; ``--`` ends."""
    try:
        opts, rest = getopt.getopt(
            list(argv), "t:hV", ["tag=", "tags-from=", "from=", "exist-ok", "help", "version"]
        )
    except getopt.GetoptError as exc:
        raise ExecError(_getopt_message(exc)) from None
    o = Options(command=rest)
    stdin_used = False
    for opt, val in opts:
        if opt in ("-t", "--tag"):
            o.tags.append(_split(val, ""))
        elif opt == "--tags-from":
            o.tags.extend(read_tags_file(val, stdin_used))
            stdin_used = stdin_used or val == "-"
        elif opt == "--from":
            copied = read_process_tags(parse_from_pid(val))
            o.tags.extend(copied)
            o.copied.update((k, v) for k, v, _origin in copied)
        elif opt == "--exist-ok":
            o.exist_ok = True
        elif opt in ("-h", "--help"):
            o.help = True
        elif opt in ("-V", "--version"):
            o.version = True
    return o


def _getopt_message(exc: getopt.GetoptError) -> str:
    opt = exc.opt
    dash = "--" if len(opt) > 1 else "-"
    msg = exc.msg
    if "not recognized" in msg:
        text = (
            f"unrecognized option '{dash}{opt}'" if dash == "--" else f"invalid option -- '{opt}'"
        )
    elif "requires argument" in msg:
        text = f"option '{dash}{opt}' requires an argument"
    elif "must not have an argument" in msg:
        text = f"option '--{opt}' doesn't allow an argument"
    elif "not a unique prefix" in msg:
        text = f"option '--{opt}' is ambiguous"
    else:
        text = msg
    return f"{text}; try '{PROG} --help' for more information"


def check_tags(tags: Sequence[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """Validate every tag before any is set; ExecError names the first bad one."""
    values: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    for key, value, origin in tags:
        try:
            _common.check_tag(key, value)
        except ValueError as exc:
            raise ExecError(f"cannot set tag '{key}': {exc}{origin}") from None
        if key in values:
            if values[key] != value:
                raise ExecError(
                    f"cannot set tag '{key}': given twice with different values{origin}"
                )
            continue
        values[key] = value
        pairs.append((key, value))
    if len(pairs) > ptag.MAX_TAGS:
        key = pairs[ptag.MAX_TAGS][0]
        raise ExecError(
            f"cannot set tag '{key}': too many tags "
            f"({len(pairs)}; a process may carry at most {ptag.MAX_TAGS})"
        )
    return pairs


def set_tags(pairs: Sequence[tuple[str, str]], opts: Options) -> None:
    """Set *pairs* on this process, in order; a tag already set to the same value is
    accepted with --exist-ok, and always for a tag copied with --from.  ExecError."""
    target = _common.Target()
    origins: dict[str, str] = {}
    for key, _value, origin in opts.tags:
        origins.setdefault(key, origin)
    for key, value in pairs:
        exist_ok = opts.exist_ok or (key, value) in opts.copied
        failure = _common.set_all([(key, value)], target, exist_ok=exist_ok)
        if failure is not None:
            why = _common.failure_reason(key, value, failure[1], target)
            raise ExecError(f"cannot set tag '{key}'{origins.get(key, '')}: {why}")


def execute(command: Sequence[str]) -> int:
    """execvp; only returns (an exit status) when that fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    _common.restore_signals()
    try:
        os.execvp(command[0], list(command))
    except OSError as exc:
        err = exc.errno
        why = os.strerror(err) if err is not None else str(exc)
        _common.warn(PROG, f"failed to execute '{command[0]}': {why}")
        return EXIT_ENOENT if err == errno.ENOENT else EXIT_CANNOT_INVOKE
    except ValueError as exc:  # e.g. an embedded NUL byte
        _common.warn(PROG, f"failed to execute '{command[0]}': {exc}")
        return EXIT_CANNOT_INVOKE


def _main(argv: Sequence[str] | None) -> int:
    try:
        opts = parse_args(_common.argv_or_sys(argv))
        if opts.help:
            sys.stdout.write(USAGE)
            return 0
        if opts.version:
            sys.stdout.write(f"{PROG} (ptag) {_common.version()}\n")
            return 0
        if not opts.command:
            raise ExecError(f"no command specified; try '{PROG} --help' for more information")
        pairs = check_tags(opts.tags)
        if pairs and not ptag.supported():
            raise ExecError(_common.NO_SUPPORT)
        set_tags(pairs, opts)
    except ExecError as exc:
        _common.warn(PROG, str(exc))
        return EXIT_FAILURE
    except ptag.NotSupportedError:
        _common.warn(PROG, _common.NO_SUPPORT)
        return EXIT_FAILURE
    return execute(opts.command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ptag-exec`` console script."""
    _common.setup_stdio()
    return _common.guarded(PROG, lambda: _main(argv), internal_status=EXIT_FAILURE)


if __name__ == "__main__":
    sys.exit(main())
