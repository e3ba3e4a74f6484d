"""The OCI mapping: which tags a container's processes get, from its id and annotations.

One function, :func:`tags_for`, shared by ``ptag oci-hook`` (which gets the id and
the annotations from the runtime's state document on stdin) and ``ptag-runtime``
(which gets the id from the runtime's command line and the annotations from the
bundle's ``config.json``), so both set exactly the same tags.  Plus the parsers of
those two documents.  Pure: no I/O, no system call; errors are :class:`OciError`,
whose text is the whole one-line reason.

Not imported by ``import ptag`` (it needs :mod:`json`).
"""

from __future__ import annotations

import json

from . import keys as _keys
from ._types import _Frozen
from ._uapi import MAX_TAGS
from ._validate import validate_key, validate_value

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ANNOTATION_KEYS",
    "DEFAULT_PREFIX",
    "Config",
    "OciError",
    "State",
    "check_tag",
    "parse_config",
    "parse_runtime_state",
    "parse_state",
    "tags_for",
]

#: Annotations ``DEFAULT_PREFIX + KEY`` become tags ``KEY``.
DEFAULT_PREFIX = "org.ptag.tag."

#: (annotation, tag key), in priority order per key: CRI-O's and containerd's names.
ANNOTATION_KEYS: tuple[tuple[str, str], ...] = (
    ("io.kubernetes.cri.container-name", _keys.CONTAINER_NAME),
    ("io.kubernetes.container.name", _keys.CONTAINER_NAME),
    ("io.kubernetes.pod.namespace", _keys.K8S_POD_NAMESPACE),
    ("io.kubernetes.cri.sandbox-namespace", _keys.K8S_POD_NAMESPACE),
    ("io.kubernetes.pod.name", _keys.K8S_POD_NAME),
    ("io.kubernetes.cri.sandbox-name", _keys.K8S_POD_NAME),
    ("io.kubernetes.pod.uid", _keys.K8S_POD_UID),
    ("io.kubernetes.cri.sandbox-uid", _keys.K8S_POD_UID),
)


class OciError(ValueError):
    """A document or a tag that the mapping refuses; the text is the whole reason."""


class State(_Frozen):
    """The parts of an OCI state document the hook needs."""

    _FIELDS = ("id", "pid", "annotations")
    __slots__ = _FIELDS
    id: str
    pid: int
    annotations: Mapping[str, str]

    def __init__(self, id: str, pid: int, annotations: Mapping[str, str]) -> None:
        self._init(id, pid, annotations)


class Config(_Frozen):
    """The parts of a bundle's ``config.json`` the runtime wrapper needs."""

    _FIELDS = ("annotations",)
    __slots__ = _FIELDS
    annotations: Mapping[str, str]

    def __init__(self, annotations: Mapping[str, str]) -> None:
        self._init(annotations)


def check_tag(key: str, value: str) -> None:
    """Validate a key and value with the library's rules; ValueError says why.

    Also insists that both are valid UTF-8: JSON can spell lone surrogates
    (``"\\ud800"``), which the kernel could never show.
    """
    for what, text in (("key", key), ("value", value)):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{what} is not valid UTF-8") from None
    validate_key(key)
    validate_value(value)


def _load_object(data: bytes, what: str) -> dict[str, object]:
    """Decode a JSON object; *what* names the document in the errors."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OciError(f"{what} is not UTF-8 (byte {exc.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OciError(
            f"invalid {what} JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise OciError(f"invalid {what} JSON: nested too deeply") from None
    if not isinstance(doc, dict):
        raise OciError(f"invalid {what}: expected a JSON object")
    return doc


def _annotations(doc: Mapping[str, object], what: str) -> dict[str, str]:
    """The document's ``annotations``: absent or null is empty; all strings."""
    ann = doc.get("annotations")
    if ann is None:
        return {}
    if not isinstance(ann, dict):
        raise OciError(f'invalid {what}: "annotations" is not an object')
    for k, v in ann.items():
        if not isinstance(v, str):
            raise OciError(f"invalid {what}: annotation '{k}' is not a string")
    return ann


def parse_state(data: bytes) -> State:
    """An OCI state document (what a hook reads on stdin); OciError if bad."""
    if not data.strip():
        raise OciError("no container state on stdin (expected OCI state JSON)")
    what = "container state"
    doc = _load_object(data, what)
    for name in ("ociVersion", "status", "bundle"):
        if name in doc and not isinstance(doc[name], str):
            raise OciError(f'invalid {what}: "{name}" is not a string')
    cid = doc.get("id")
    if cid is None:
        raise OciError(f'invalid {what}: no "id"')
    if not isinstance(cid, str) or not cid:
        raise OciError(f'invalid {what}: "id" is not a non-empty string')
    pid = doc.get("pid")
    if pid is None:
        raise OciError(f'invalid {what}: no "pid" (is the hook in the right stage?)')
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid <= 2**31 - 1:
        raise OciError(f'invalid {what}: "pid" is not a process ID: {json.dumps(pid)}')
    return State(cid, pid, _annotations(doc, what))


def parse_config(data: bytes, name: str = "config.json") -> Config:
    """A bundle's ``config.json`` (its annotations); OciError naming *name* if bad."""
    if not data.strip():
        raise OciError(f"{name} is empty (expected the bundle's OCI config JSON)")
    doc = _load_object(data, name)
    return Config(_annotations(doc, name))


#: The states in which a container has an init process to join (runc, crun).
LIVE_STATUSES = ("created", "running", "paused")


def parse_runtime_state(data: bytes, cid: str) -> int:
    """The init PID in the output of ``RUNTIME state CID`` (an OCI state document);
    OciError when it is not that container's, or the container has no live init."""
    what = f"state of container '{cid}'"
    if not data.strip():
        raise OciError(f"empty {what} (expected OCI state JSON)")
    doc = _load_object(data, what)
    if doc.get("id") != cid:
        raise OciError(f'invalid {what}: its "id" is {json.dumps(doc.get("id"))}')
    status = doc.get("status")
    if status not in LIVE_STATUSES:
        raise OciError(f"container '{cid}' has no process to join (status {json.dumps(status)})")
    pid = doc.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid <= 2**31 - 1:
        raise OciError(f'invalid {what}: "pid" is not a process ID: {json.dumps(pid)}')
    return pid


def tags_for(
    cid: str,
    annotations: Mapping[str, str],
    *,
    prefix: str = DEFAULT_PREFIX,
    runtime: str | None = None,
    key_prefix: str = "",
    id_source: str = "the container id",
    runtime_source: str = "the runtime name",
) -> list[tuple[str, str]]:
    """The (key, value) pairs to set on a container's processes, in order, all valid.

    In this order: ``container.id`` = *cid*; ``container.runtime`` = *runtime*
    unless None; ``container.name`` and the ``k8s.pod.*`` keys from the Kubernetes
    annotations of :data:`ANNOTATION_KEYS`; then every annotation *prefix* ``KEY``
    (sorted; an empty *prefix* turns this off) as ``KEY``.  *key_prefix* goes in
    front of every key (``inner.`` for a runtime nested in a tagged container,
    which cannot reuse the outer keys).  *id_source* and *runtime_source* name
    where the id and the runtime name came from, in errors.

    Raises OciError for an invalid tag, an annotation that is only *prefix*, two
    sources that give one key different values, or more than MAX_TAGS tags.
    """
    chosen: dict[str, tuple[str, str]] = {}  # key -> (value, source)

    def add(key: str, value: str, source: str) -> None:
        key = key_prefix + key
        try:
            check_tag(key, value)
        except ValueError as exc:
            raise OciError(f"cannot set tag '{key}' from {source}: {exc}") from None
        prev = chosen.get(key)
        if prev is not None and prev[0] != value:
            raise OciError(
                f"conflicting values for tag '{key}': '{prev[0]}' from {prev[1]}, "
                f"'{value}' from {source}"
            )
        if prev is None:
            chosen[key] = (value, source)

    add(_keys.CONTAINER_ID, cid, id_source)
    if runtime is not None:
        add(_keys.CONTAINER_RUNTIME, runtime, runtime_source)
    for annotation, key in ANNOTATION_KEYS:
        if annotation in annotations:
            add(key, annotations[annotation], f"annotation '{annotation}'")
    if prefix:
        for annotation in sorted(annotations):
            if annotation.startswith(prefix) and len(annotation) > len(prefix):
                add(
                    annotation[len(prefix) :], annotations[annotation], f"annotation '{annotation}'"
                )
            elif annotation == prefix:
                raise OciError(f"annotation '{annotation}' names no tag")
    pairs = [(k, v) for k, (v, _src) in chosen.items()]
    if len(pairs) > MAX_TAGS:
        raise OciError(f"too many tags ({len(pairs)}; a process may carry at most {MAX_TAGS})")
    return pairs
