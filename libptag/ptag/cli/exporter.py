"""``ptag exporter``: Prometheus metrics per group of processes with the same
trusted tags, over HTTP, to a node_exporter textfile, or once to stdout.

The collector is :mod:`ptag.exporter.collector` (``prometheus_client``, an
optional dependency: ``pip install 'libptag[exporter]'``); this module only turns
options into its configuration and wires it to an output.
"""

from __future__ import annotations

import argparse
import errno
import os
import pwd
import signal

from ptag._proc import proc_has_ptags
from ptag.exporter.groups import DEFAULT_KEYS, Config, parse_label

from . import _common, _parser

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from typing import Any

DEFAULT_RETENTION = 300.0
INSTALL_HINT = "pip install 'libptag[exporter]'"

EPILOG = f"""\
Groups every process by the values of its trusted tags on the --label keys
(default: {", ".join(DEFAULT_KEYS)});
each key becomes a label: characters other than A-Z a-z 0-9 _ become '_',
and a leading digit gets a '_' (container.id -> container_id).  A tag counts
only if its owner is a --trust-owner (default: root); other tags are ignored
and counted in ptag_untrusted_tags_total.  Processes without trusted tags are
one group with empty labels.  Counters keep what exited processes used; a group
whose processes are all gone keeps its series for --retention seconds.
On a kernel without ptags every process is untagged (one warning at start).

Exit status:
  0  --once or --textfile: written; --listen: stopped by SIGTERM
  1  failure (cannot listen or write; prometheus_client is not installed)
  2  usage error
  130  interrupted (SIGINT)
"""


def parse_listen(text: str) -> tuple[str, int]:
    """``ADDR:PORT``, ``:PORT`` (every address) or ``[IPV6]:PORT`` as
    ``(addr, port)``; ValueError otherwise.  Port 0 picks a free port."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"invalid --listen '{text}' (expected ADDR:PORT, e.g. 127.0.0.1:9868)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"invalid --listen '{text}' (write an IPv6 address as [ADDR]:PORT)")
    return host or "0.0.0.0", int(port)


def parse_uid(text: str) -> int:
    """A ``--trust-owner``: a uid, or a user name looked up in the password database."""
    t = text.strip()
    if t.isascii() and t.isdigit():
        uid = int(t)
        if uid >= 2**32 - 1:
            raise ValueError(f"invalid --trust-owner '{text}' (a uid is below 4294967295)")
        return uid
    try:
        return pwd.getpwnam(t).pw_uid
    except (KeyError, ValueError, OSError):
        raise ValueError(f"invalid --trust-owner '{text}': no such user") from None


def parse_seconds(text: str) -> float:
    """``--retention``: a number of seconds, at least 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"invalid --retention '{text}' (expected a number of seconds >= 0)")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "exporter",
        help="serve per-container Prometheus metrics from tags",
        description=(
            "Export Prometheus metrics per group of processes that share trusted tags "
            "(per container, per pod): over HTTP, to a node_exporter textfile, or once."
        ),
        epilog=EPILOG,
        error_prog="ptag",
        help_hint="ptag exporter --help",
    )
    _parser.add_common_flags(p, "ptag")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--listen", metavar="ADDR:PORT", help="serve /metrics over HTTP")
    mode.add_argument(
        "--textfile",
        metavar="PATH",
        help="write one scrape to PATH atomically (node_exporter textfile) and exit",
    )
    mode.add_argument("--once", action="store_true", help="print one scrape to stdout and exit")
    p.add_argument(
        "--label",
        metavar="KEY[=LABEL]",
        action="append",
        help="group by tag KEY, as label LABEL (repeatable; replaces the default keys)",
    )
    p.add_argument(
        "--trust-owner",
        metavar="UID",
        action="append",
        help="trust tags set by this uid or user (repeatable; default: 0)",
    )
    p.add_argument(
        "--retention",
        metavar="SECONDS",
        default=str(DEFAULT_RETENTION),
        help="keep a vanished group's series this long (default: %(default)s)",
    )
    p.set_defaults(run=run, hint="ptag exporter --help")


def config_from(args: argparse.Namespace) -> Config:
    """The collector's configuration from the options; UsageError when bad."""
    try:
        pairs = [parse_label(spec) for spec in args.label or ()]
        trusted = [parse_uid(u) for u in args.trust_owner or ("0",)]
        retention = parse_seconds(args.retention)
        return Config(pairs, trusted, retention)
    except ValueError as exc:
        raise _common.UsageError(str(exc)) from None


def _why(exc: OSError) -> str:
    """The reason of a failed write or bind, as one short phrase."""
    return exc.strerror or str(exc) or type(exc).__name__


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    listen = None
    if args.listen is not None:
        try:
            listen = parse_listen(args.listen)
        except ValueError as exc:
            raise _common.UsageError(str(exc)) from None
    try:
        from ptag.exporter import collector
    except ImportError as exc:
        if not (exc.name or "").startswith("prometheus_client"):
            raise
        _common.warn("ptag", f"exporter needs prometheus_client; install it: {INSTALL_HINT}")
        return 1
    # the output is checked first, so that a bad one is the only line printed
    if args.textfile is not None:
        problem = _unwritable(args.textfile)
        if problem:
            _common.warn("ptag", f"cannot write {args.textfile}: {problem}")
            return 1
    supported = proc_has_ptags() is True
    registry = collector.registry_for(collector.PtagCollector(config, kernel_supported=supported))
    bound = None
    if listen is not None:
        try:
            bound = collector.serve(*listen, registry)
        except OSError as exc:
            _common.warn("ptag", f"cannot listen on {args.listen}: {_why(exc)}")
            return 1
    if not supported:
        _common.warn(
            "ptag", f"warning: {_common.NO_SUPPORT}; every process is in the untagged group"
        )
    if args.once:
        _common.emit_bytes(collector.render(registry))
        return 0
    if args.textfile is not None:
        try:
            collector.write_textfile(args.textfile, registry)
        except OSError as exc:
            _common.warn("ptag", f"cannot write {args.textfile}: {_why(exc)}")
            return 1
        return 0
    assert bound is not None
    host, port = bound
    shown = f"[{host}]" if ":" in host else host
    _common.emit(f"ptag exporter: serving http://{shown}:{port}/metrics\n")
    _common.flush()
    signal.signal(signal.SIGTERM, _stop)
    while True:
        signal.pause()


def _unwritable(path: str) -> str | None:
    """Why a file could not be created next to ``path`` (None if it could)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        return os.strerror(errno.ENOENT if not os.path.exists(directory) else errno.ENOTDIR)
    if os.path.isdir(path):
        return os.strerror(errno.EISDIR)
    if not os.access(directory, os.W_OK):
        return os.strerror(errno.EACCES)
    return None
