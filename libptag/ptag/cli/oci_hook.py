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
import json
import os
import sys

import ptag
from ptag._types import _Frozen

from . import _common

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

DEFAULT_PREFIX = "org.ptag.tag."
MAX_STATE_BYTES = 4 * 1024 * 1024

#: (annotation, tag key), in priority order per key.
ANNOTATION_KEYS: tuple[tuple[str, str], ...] = (
    ("io.kubernetes.cri.container-name", _common.CONTAINER_NAME),
    ("io.kubernetes.container.name", _common.CONTAINER_NAME),
    ("io.kubernetes.pod.namespace", _common.POD_NAMESPACE),
    ("io.kubernetes.cri.sandbox-namespace", _common.POD_NAMESPACE),
    ("io.kubernetes.pod.name", _common.POD_NAME),
    ("io.kubernetes.cri.sandbox-name", _common.POD_NAME),
    ("io.kubernetes.pod.uid", _common.POD_UID),
    ("io.kubernetes.cri.sandbox-uid", _common.POD_UID),
)

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


class HookError(Exception):
    """A reason to fail the container, as one line."""


class State(_Frozen):
    _FIELDS = ("id", "pid", "annotations")
    __slots__ = _FIELDS
    id: str
    pid: int
    annotations: Mapping[str, str]

    def __init__(self, id: str, pid: int, annotations: Mapping[str, str]) -> None:
        self._init(id, pid, annotations)


def parse_state(data: bytes) -> State:
    """The parts of an OCI state document the hook needs; HookError if bad."""
    if not data.strip():
        raise HookError("no container state on stdin (expected OCI state JSON)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HookError(f"container state is not UTF-8 (byte {exc.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HookError(
            f"invalid container state JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise HookError("invalid container state JSON: nested too deeply") from None
    if not isinstance(doc, dict):
        raise HookError("invalid container state: expected a JSON object")
    for name in ("ociVersion", "status", "bundle"):
        if name in doc and not isinstance(doc[name], str):
            raise HookError(f'invalid container state: "{name}" is not a string')
    cid = doc.get("id")
    if cid is None:
        raise HookError('invalid container state: no "id"')
    if not isinstance(cid, str) or not cid:
        raise HookError('invalid container state: "id" is not a non-empty string')
    pid = doc.get("pid")
    if pid is None:
        raise HookError('invalid container state: no "pid" (is the hook in the right stage?)')
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid <= 2**31 - 1:
        raise HookError(f'invalid container state: "pid" is not a process ID: {json.dumps(pid)}')
    ann = doc.get("annotations", {})
    if ann is None:
        ann = {}
    if not isinstance(ann, dict):
        raise HookError('invalid container state: "annotations" is not an object')
    for k, v in ann.items():
        if not isinstance(v, str):
            raise HookError(f"invalid container state: annotation '{k}' is not a string")
    return State(cid, pid, ann)


def tags_for(state: State, *, prefix: str, runtime: str | None) -> list[tuple[str, str]]:
    """The (key, value) pairs to set, in order, all validated; HookError."""
    chosen: dict[str, tuple[str, str]] = {}  # key -> (value, source)

    def add(key: str, value: str, source: str) -> None:
        try:
            _common.check_tag(key, value)
        except ValueError as exc:
            raise HookError(f"cannot set tag '{key}' from {source}: {exc}") from None
        prev = chosen.get(key)
        if prev is not None and prev[0] != value:
            raise HookError(
                f"conflicting values for tag '{key}': '{prev[0]}' from {prev[1]}, "
                f"'{value}' from {source}"
            )
        if prev is None:
            chosen[key] = (value, source)

    add(_common.CONTAINER_ID, state.id, 'the state\'s "id"')
    if runtime is not None:
        add(_common.CONTAINER_RUNTIME, runtime, "--runtime")
    for annotation, key in ANNOTATION_KEYS:
        if annotation in state.annotations:
            add(key, state.annotations[annotation], f"annotation '{annotation}'")
    if prefix:
        for annotation in sorted(state.annotations):
            if annotation.startswith(prefix) and len(annotation) > len(prefix):
                add(
                    annotation[len(prefix) :],
                    state.annotations[annotation],
                    f"annotation '{annotation}'",
                )
            elif annotation == prefix:
                raise HookError(f"annotation '{annotation}' names no tag")
    pairs = [(k, v) for k, (v, _src) in chosen.items()]
    if len(pairs) > ptag.MAX_TAGS:
        raise HookError(
            f"too many tags ({len(pairs)}; a process may carry at most {ptag.MAX_TAGS})"
        )
    return pairs


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
    _common.add_common_flags(p, "ptag")
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
            _common.emit(f"{key}={value}\n")
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
