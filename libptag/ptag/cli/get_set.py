"""``ptag get`` and ``ptag set``.

``ptag get [-p PID] [-J|-r] [KEY...]`` prints every tag of the process (the
``ptag`` process itself by default, whose tags are inherited from the shell)
as ``KEY=VALUE`` lines, or only the values of the named keys, one per line,
like ``printenv``: escaped for a terminal (:func:`ptag.cli.output.escape`), or
exactly as the kernel holds them with ``-r``.  ``ptag set -p PID [--exist-ok]
KEY=VALUE...`` tags another process through a pidfd; tagging the short-lived
``ptag`` itself would be pointless, so ``-p`` is required (use ``ptag-exec`` to
start tagged).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

import ptag

from . import _common, _parser, output

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from typing import Any

GET_EPILOG = """\
Without KEY, prints every tag as KEY=VALUE, oldest first.  With KEYs, prints
each value on its own line, in the order given.  Characters a terminal would
misrender are escaped (\\xHH, \\uHHHH; see ptag(1)); -r prints the bytes exactly.
-J prints {"pid": PID, "tags": {KEY: VALUE}, "owner": {KEY: UID}}.

Exit status:
  0  success
  1  a KEY is not set, the process does not exist, or the kernel lacks
     ptag support
  2  usage error (bad option, invalid KEY)
"""

SET_EPILOG = """\
Tags are set in the order given, through a pidfd.  Every KEY=VALUE is checked
before the first is set; a kernel error part-way cannot be undone (tags are
never removed), and is reported for the tag that failed.

Tagging another process needs the right to ptrace it with the real
credentials (Yama's ptrace_scope applies).  A tag that is already set can
never be changed: --exist-ok accepts a tag already set to the same value,
never another value.

Exit status:
  0  every tag is set
  1  a tag could not be set, the process does not exist, or the kernel
     lacks ptag support
  2  usage error (bad option, malformed KEY=VALUE, invalid key or value)
"""


def add_parsers(sub: Any) -> None:
    g = sub.add_parser(
        "get",
        help="print tags of a process",
        description="Print the tags of a process.",
        epilog=GET_EPILOG,
        error_prog="ptag",
        help_hint="ptag get --help",
    )
    _parser.add_common_flags(g, "ptag")
    g.add_argument(
        "-p",
        "--pid",
        type=_parser.parse_pid,
        metavar="PID",
        help="the process (default: ptag itself, i.e. what it inherited)",
    )
    fmt = g.add_mutually_exclusive_group()
    fmt.add_argument("-J", "--json", action="store_true", help="use JSON output format")
    fmt.add_argument("-r", "--raw", action="store_true", help="print the bytes exactly, unescaped")
    g.add_argument("keys", nargs="*", metavar="KEY", help="print only these tags' values")
    g.set_defaults(run=run_get, hint="ptag get --help")

    s = sub.add_parser(
        "set",
        help="tag another process (needs -p)",
        description="Tag a running process, through a pidfd.",
        epilog=SET_EPILOG,
        error_prog="ptag",
        help_hint="ptag set --help",
    )
    _parser.add_common_flags(s, "ptag")
    s.add_argument(
        "-p",
        "--pid",
        type=_parser.parse_pid,
        metavar="PID",
        required=True,
        help="the process to tag (required)",
    )
    s.add_argument(
        "--exist-ok", action="store_true", help="accept a tag that is already set to the same value"
    )
    s.add_argument("tags", nargs="+", metavar="KEY=VALUE", help="the tags to set")
    s.set_defaults(run=run_set, hint="ptag set --help")


def _where(pid: int | None) -> str:
    return "this process" if pid is None else f"PID {pid}"


def run_get(args: argparse.Namespace) -> int:
    for key in args.keys:
        try:
            _common.check_tag(key, None)
        except ValueError as exc:
            raise _common.UsageError(f"invalid key '{key}': {exc}") from None
    if not ptag.supported():
        _common.warn("ptag", _common.NO_SUPPORT)
        return 1
    pid: int | None = args.pid
    try:
        tags: Mapping[str, Any] = ptag.tags(pid)
    except ptag.TagProcessLookupError:
        _common.warn("ptag", f"PID {pid}: no such process")
        return 1
    except ptag.NotSupportedError:
        _common.warn("ptag", _common.NO_SUPPORT)
        return 1
    except OSError as exc:
        _common.warn("ptag", f"cannot read tags of {_where(pid)}: {_common.reason(exc)}")
        return 1
    status = 0
    wanted = list(dict.fromkeys(args.keys)) if args.keys else list(tags)
    found = []
    for key in wanted:
        tag = tags.get(key)
        if tag is None:
            _common.warn("ptag", f"{_where(pid)} has no tag '{key}'")
            status = 1
        else:
            found.append(tag)
    if args.json:
        doc = {
            "pid": pid if pid is not None else os.getpid(),
            "tags": {t.key: t.value for t in found},
            "owner": {t.key: t.owner for t in found},
        }
        _common.emit(output.dumps(doc) + "\n")
    else:
        lines = [t.value if args.keys else f"{t.key}={t.value}" for t in found]
        if args.raw:
            _common.emit_bytes(
                "".join(f"{line}\n" for line in lines).encode("utf-8", "surrogateescape")
            )
        else:
            _common.emit("".join(f"{_common.escape(line)}\n" for line in lines))
    return status


def parse_assignments(items: list[str]) -> list[tuple[str, str]]:
    """Check ``KEY=VALUE`` arguments; ValueError with a one-line reason."""
    pairs: list[tuple[str, str]] = []
    values: dict[str, str] = {}
    for item in items:
        try:
            key, value = _common.split_assignment(item)
        except ValueError as exc:
            raise ValueError(f"invalid tag '{item}': {exc}") from None
        try:
            _common.check_tag(key, value)
        except ValueError as exc:
            raise ValueError(f"invalid tag '{key}': {exc}") from None
        if key in values and values[key] != value:
            raise ValueError(f"tag '{key}' given twice with different values")
        values[key] = value
        pairs.append((key, value))
    pairs = _common.dedupe(pairs)
    if len(pairs) > ptag.MAX_TAGS:
        raise ValueError(
            f"too many tags ({len(pairs)}; a process may carry at most {ptag.MAX_TAGS})"
        )
    return pairs


def run_set(args: argparse.Namespace) -> int:
    try:
        pairs = parse_assignments(args.tags)
    except ValueError as exc:
        raise _common.UsageError(str(exc)) from None
    if not ptag.supported():
        _common.warn("ptag", _common.NO_SUPPORT)
        return 1
    pid: int = args.pid
    try:
        pidfd = _common.open_pidfd(pid)
    except ProcessLookupError:
        _common.warn("ptag", f"PID {pid}: no such process")
        return 1
    except OSError as exc:
        _common.warn("ptag", f"cannot open PID {pid}: {_common.reason(exc)}")
        return 1
    try:
        target = _common.Target(pid, pidfd)
        failure = _common.set_all(pairs, target, exist_ok=args.exist_ok)
        if failure is None:
            return 0
        key, error = failure
        if isinstance(error, ptag.TagProcessLookupError):
            _common.warn("ptag", f"PID {pid}: no such process")
            return 1
        why = _common.failure_reason(key, dict(pairs)[key], error, target)
        _common.warn("ptag", f"cannot set tag '{key}' on PID {pid}: {why}")
        return 1
    finally:
        if pidfd is not None:
            os.close(pidfd)
