"""``ptag oci-hook``: an OCI runtime hook that tags a container's process.

Install it as a ``createRuntime`` (or ``createContainer``) hook.  The runtime
writes the container state to the hook's stdin (OCI runtime-spec "State"):
``{"ociVersion": ..., "id": ..., "status": ..., "pid": ..., "bundle": ...,
"annotations": {...}}``.  The hook opens a pidfd for ``pid`` and sets, in
this order:

====================================================  =====================
source                                                tag
====================================================  =====================
``id``                                                ``container.id``
``--runtime NAME``                                    ``container.runtime``
``io.kubernetes.cri.container-name`` or
``io.kubernetes.container.name``                      ``container.name``
``io.kubernetes.pod.namespace`` (CRI-O) or
``io.kubernetes.cri.sandbox-namespace`` (containerd)  ``k8s.pod.namespace``
``io.kubernetes.pod.name`` or
``io.kubernetes.cri.sandbox-name``                    ``k8s.pod.name``
``io.kubernetes.pod.uid`` or
``io.kubernetes.cri.sandbox-uid``                     ``k8s.pod.uid``
annotation ``<PREFIX>KEY`` = VALUE                    ``KEY`` = VALUE
====================================================  =====================

``PREFIX`` is ``org.ptag.tag.`` unless ``--annotation-prefix`` says
otherwise (an empty prefix turns that mapping off); prefixed annotations are
applied in sorted order.  When two sources give one key different values
the hook fails.

Every tag is checked before any is set, and the hook is idempotent: a tag
that is already set to the same value (a re-run) is accepted; one set to a
different value (say, inherited from an outer container) fails the hook.
Any failure — unreadable or invalid JSON, a missing or bad ``id`` or
``pid``, an invalid tag, a kernel without ptag support, a process that is
gone — prints one line on stderr and exits 1, so the runtime fails the
container instead of running it untagged.
"""

from __future__ import annotations

import argparse
import os
import sys

import ptag
from ptag import _oci
from ptag._oci import ANNOTATION_KEYS, DEFAULT_PREFIX, State, parse_state

from . import _common, _parser

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "ANNOTATION_KEYS",
    "DEFAULT_PREFIX",
    "MAX_STATE_BYTES",
    "HookError",
    "State",
    "add_parser",
    "parse_state",
    "run",
    "tags_for",
]

MAX_STATE_BYTES = 4 * 1024 * 1024

#: A reason to fail the container, as one line (the mapping's errors are ones too).
HookError = _oci.OciError

EPILOG = f"""\
Tags set (the container state comes on stdin, as the OCI runtime spec says):
  container.id         the state's "id"
  container.runtime    --runtime NAME, when given
  container.name       annotation io.kubernetes.cri.container-name
                       or io.kubernetes.container.name
  k8s.pod.namespace    annotation io.kubernetes.pod.namespace
                       or io.kubernetes.cri.sandbox-namespace
  k8s.pod.name         annotation io.kubernetes.pod.name
                       or io.kubernetes.cri.sandbox-name
  k8s.pod.uid          annotation io.kubernetes.pod.uid
                       or io.kubernetes.cri.sandbox-uid
  KEY                  annotation PREFIXKEY (default PREFIX: {DEFAULT_PREFIX})

Example hook in config.json:
  "hooks": {{"createRuntime": [{{"path": "/usr/bin/ptag",
            "args": ["ptag", "oci-hook", "--runtime", "runc"]}}]}}

Re-running is harmless: a tag already set to the same value is accepted; a
different value is an error.  Every tag is checked before any is set.

Exit status:
  0  the container's process carries every tag
  1  bad or missing state JSON, an invalid tag, conflicting annotations, the
     kernel lacks ptag support, or a tag could not be set (the runtime then
     fails the container rather than run it untagged)
  2  usage error
"""


def tags_for(state: State, *, prefix: str, runtime: str | None) -> list[tuple[str, str]]:
    """The (key, value) pairs to set on the state's process, in order, all validated
    (the mapping ptag-runtime shares, :func:`ptag._oci.tags_for`); HookError."""
    return _oci.tags_for(
        state.id,
        state.annotations,
        prefix=prefix,
        runtime=runtime,
        id_source='the state\'s "id"',
        runtime_source="--runtime",
    )


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "oci-hook",
        help="OCI runtime hook: tag a container's process from its state",
        description="OCI runtime hook (createRuntime/createContainer): read the container\n"
        "state JSON on stdin and tag the container's process through a pidfd.",
        epilog=EPILOG,
        error_prog="ptag",
        help_hint="ptag oci-hook --help",
    )
    _parser.add_common_flags(p, "ptag")
    p.add_argument(
        "--annotation-prefix",
        metavar="PREFIX",
        default=DEFAULT_PREFIX,
        help=f"annotations PREFIXKEY=VALUE become tags KEY=VALUE "
        f"(default: {DEFAULT_PREFIX}; empty: none)",
    )
    p.add_argument("--runtime", metavar="NAME", help="also set container.runtime=NAME")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the tags as KEY=VALUE lines instead of setting them",
    )
    p.set_defaults(run=run, hint="ptag oci-hook --help")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except HookError as exc:
        _common.warn("ptag", f"oci-hook: {exc}")
        return 1


def _read_stdin() -> bytes:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise HookError("no container state on stdin (stdin is closed)")
    try:
        data: bytes = stream.read(MAX_STATE_BYTES + 1)
    except OSError as exc:
        raise HookError(f"cannot read the container state: {_common.reason(exc)}") from None
    if len(data) > MAX_STATE_BYTES:
        raise HookError(f"container state larger than {MAX_STATE_BYTES} bytes")
    return data


def _run(args: argparse.Namespace) -> int:
    if args.runtime is not None:
        try:
            _common.check_tag(_common.CONTAINER_RUNTIME, args.runtime)
        except ValueError as exc:
            raise _common.UsageError(f"invalid --runtime: {exc}") from None
    state = parse_state(_read_stdin())
    pairs = tags_for(state, prefix=args.annotation_prefix, runtime=args.runtime)
    if args.dry_run:
        for key, value in pairs:
            _common.emit(_common.escape(f"{key}={value}") + "\n")
        return 0
    if not ptag.supported():
        raise HookError(_common.NO_SUPPORT)
    try:
        pidfd = _common.open_pidfd(state.pid)
    except ProcessLookupError:
        raise HookError(f"container process {state.pid} does not exist") from None
    except OSError as exc:
        raise HookError(
            f"cannot open container process {state.pid}: {_common.reason(exc)}"
        ) from None
    try:
        target = _common.Target(state.pid, pidfd)
        failure = _common.set_all(pairs, target, exist_ok=True)
        if failure is None:
            return 0
        key, error = failure
        if isinstance(error, ptag.TagProcessLookupError):
            raise HookError(f"container process {state.pid} does not exist")
        why = _common.failure_reason(key, dict(pairs)[key], error, target)
        raise HookError(f"cannot set tag '{key}' on PID {state.pid}: {why}")
    finally:
        if pidfd is not None:
            os.close(pidfd)
