"""Immutable process tags for Linux.

A process tag is a ``key=value`` pair the kernel stores on a process: every child
inherits it, it survives ``execve``, and nobody can change or remove it.  Runtimes
tag the processes they start (see :mod:`ptag.keys`); tools read the tags back with
:func:`get`, :func:`tags`, :func:`read_proc_tags` or :func:`process_iter`.

Needs the patched kernel (``PR_SET_PTAG`` / ``PR_GET_PTAG``); elsewhere every call
raises :class:`NotSupportedError` and :func:`supported` returns ``False``.
"""

from __future__ import annotations

from . import keys
from ._api import get, set, supported, tags
from ._errors import (
    NotSupportedError,
    PtagError,
    TagExistsError,
    TagLimitError,
    TagNotFoundError,
    TagPermissionError,
    TagProcessLookupError,
    error_from_errno,
)
from ._proc import parse_proc_tags, process_iter, read_proc_tags
from ._types import ProcessInfo, Tag
from ._uapi import KEY_MAX, MAX_TAGS, PR_GET_PTAG, PR_SET_PTAG, VALUE_MAX
from ._validate import validate_key, validate_value

__all__ = [
    "KEY_MAX",
    "MAX_TAGS",
    "PR_GET_PTAG",
    "PR_SET_PTAG",
    "VALUE_MAX",
    "NotSupportedError",
    "ProcessInfo",
    "PtagError",
    "Tag",
    "TagExistsError",
    "TagLimitError",
    "TagNotFoundError",
    "TagPermissionError",
    "TagProcessLookupError",
    "error_from_errno",
    "get",
    "keys",
    "parse_proc_tags",
    "process_iter",
    "read_proc_tags",
    "set",
    "supported",
    "tags",
    "validate_key",
    "validate_value",
]

__version__ = "0.1.0"
