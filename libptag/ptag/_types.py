"""The immutable records the public API returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ProcessInfo", "Tag"]


@dataclass(frozen=True)
class Tag:
    """One process tag: ``key=value``, set by the user ``owner``.

    ``owner`` is the effective uid of whoever set the tag, as seen from the reader's
    user namespace (65534, the overflow uid, when it is not mapped there).  Decide
    whether to trust a tag by its owner.
    """

    key: str
    value: str
    owner: int


@dataclass(frozen=True)
class ProcessInfo:
    """A snapshot of one process, as :func:`ptag.process_iter` yields it.

    ``uid`` is the owner of ``/proc/<pid>`` (the effective uid; procps reports the
    same, and like procps it shows 0 for a non-dumpable process).  ``comm`` is the
    kernel's command name (at most 15 bytes, surrogateescape-decoded).  ``tags`` is
    empty when the kernel lacks ptags or the file was unreadable; ``cgroup`` is the
    cgroup v2 path (the first line's path without a v2 line) or ``None`` when
    unreadable.
    """

    pid: int
    ppid: int
    uid: int
    comm: str
    tags: Mapping[str, Tag]
    cgroup: str | None
