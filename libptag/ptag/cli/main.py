"""``ptag``: inspect and set immutable process tags.

Subcommands: ``get``, ``set``, ``ps``, ``explain``, ``oci-hook``, ``install``; each has
``-h/--help`` with its exit statuses.  Errors are one line on stderr,
``ptag: message``; usage errors exit 2, failures 1, and nothing ever prints a
traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import ptag

from . import _common, _parser

# The module that defines each command.  Only the one a command line names is
# imported: ``ptag get`` does not pay for ``explain``'s heuristics or ``ps``'s
# table code (each Python module costs a file lookup per sys.path entry, which
# adds up on slow file systems).
_COMMANDS = {
    "get": "get_set",
    "set": "get_set",
    "ps": "ps",
    "explain": "explain",
    "oci-hook": "oci_hook",
    "exporter": "exporter",
    "install": "install",
}

DESCRIPTION = """\
Inspect and set process tags: key/value labels that the kernel keeps on each
process, that children inherit, and that nobody can change or remove."""

EPILOG = """\
Run 'ptag COMMAND --help' for a command's options.

Exit status:
  0  success
  1  failure (ps: nothing listed; get: a tag is missing; the kernel lacks
     ptag support for get/set/oci-hook; no such process; permission denied)
  2  usage error
  130  interrupted
"""


def _command_of(argv: Sequence[str]) -> str | None:
    """The command an argument list names, when its first word is one.

    ``ptag`` has no option that comes before a command but ``-h`` and ``-V``, and
    with those (or anything else) first, every command is registered: help lists
    them all, and an error names them all.
    """
    return argv[0] if argv and argv[0] in _COMMANDS else None


def build_parser(command: str | None = None) -> _parser.Parser:
    """The ``ptag`` parser: every command, or only *command*'s when it is one.

    Without a known *command* (``ptag --help``, a typo, no command) every command
    is registered, so help and error messages list them all.
    """
    parser = _parser.Parser(
        prog="ptag",
        description=DESCRIPTION,
        epilog=EPILOG,
        error_prog="ptag",
        help_hint="ptag --help",
    )
    _parser.add_common_flags(parser, "ptag")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    names = [_COMMANDS[command]] if command in _COMMANDS else dict.fromkeys(_COMMANDS.values())
    for name in names:
        module = importlib.import_module(f"{__package__}.{name}")
        register = getattr(module, "add_parsers", None) or module.add_parser
        register(sub)
    return parser


def _main(argv: Sequence[str] | None) -> int:
    arglist = _common.argv_or_sys(argv)
    parser = build_parser(_command_of(arglist))
    args = parser.parse_args(arglist)
    run = getattr(args, "run", None)
    if run is None:
        parser.error("missing command")
    hint: str = getattr(args, "hint", "ptag --help")
    try:
        status: int = run(args)
    except _common.UsageError as exc:
        _common.warn("ptag", f"{exc}; try '{hint}' for more information")
        return 2
    except ptag.NotSupportedError:
        _common.warn("ptag", _common.NO_SUPPORT)
        return 1
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ptag`` console script."""
    _common.setup_stdio()
    return _common.guarded("ptag", lambda: _main(argv), internal_status=1)


if __name__ == "__main__":
    sys.exit(main())
