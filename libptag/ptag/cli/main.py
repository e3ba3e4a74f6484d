"""``ptag``: inspect and set immutable process tags.

Subcommands: ``get``, ``set``, ``ps``, ``explain``, ``oci-hook``; each has
``-h/--help`` with its exit statuses.  Errors are one line on stderr,
``ptag: message``; usage errors exit 2, failures 1, and nothing ever prints a
traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import ptag

from . import _common, explain, get_set, oci_hook, ps

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


def build_parser() -> _common.Parser:
    parser = _common.Parser(
        prog="ptag",
        description=DESCRIPTION,
        epilog=EPILOG,
        error_prog="ptag",
        help_hint="ptag --help",
    )
    _common.add_common_flags(parser, "ptag")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    get_set.add_parsers(sub)
    ps.add_parser(sub)
    explain.add_parser(sub)
    oci_hook.add_parser(sub)
    return parser


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(_common.argv_or_sys(argv))
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
