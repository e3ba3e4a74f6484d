"""Argument parsing in util-linux style: errors are one line, ``-V/--version``.

Separate from :mod:`._common` so that what parses its own command line
(``ptag-runtime``) does not import :mod:`argparse`.
"""

from __future__ import annotations

import argparse
import sys

from ._common import terminal_columns, version, warn

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from typing import Any, NoReturn


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, measuring the terminal as it does but without
    :mod:`shutil`, which it imports for that (with zlib, bz2 and lzma): argparse
    makes a formatter for every ``add_argument``, so every command paid for it."""

    def __init__(self, prog: str, *args: Any, **kwargs: Any) -> None:
        if len(args) < 3 and kwargs.get("width") is None:
            kwargs["width"] = terminal_columns() - 2  # what argparse does
        super().__init__(prog, *args, **kwargs)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``prog: message``.

    argparse prints the usage block and then the error; util-linux prints
    ``prog: message`` and a hint.  We print both on one line so that a
    script sees exactly one line on stderr, and exit with ``exit_status``.
    """

    def __init__(
        self,
        *args: object,
        error_prog: str = "ptag",
        help_hint: str = "ptag --help",
        exit_status: int = 2,
        **kwargs: object,
    ) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", True)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.error_prog = error_prog
        self.help_hint = help_hint
        self.exit_status = exit_status

    def error(self, message: str) -> NoReturn:
        warn(self.error_prog, f"{message}; try '{self.help_hint}' for more information")
        sys.exit(self.exit_status)


def add_common_flags(parser: argparse.ArgumentParser, prog: str) -> None:
    """``-h/--help`` comes from argparse; add ``-V/--version``."""
    parser.add_argument(
        "-V",
        "--version",
        action="version",
        version=f"{prog} (ptag) {version()}",
        help="print version and exit",
    )


def parse_pid(text: str) -> int:
    """A PID argument: a positive decimal integer (argparse type)."""
    t = text.strip()
    if not t.isascii() or not t.isdigit() or int(t) <= 0 or int(t) > 2**31 - 1:
        raise argparse.ArgumentTypeError(f"invalid PID: '{text}'")
    return int(t)
