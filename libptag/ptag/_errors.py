"""Exceptions raised by :mod:`ptag`, and the errno → exception map.

Every exception is a :class:`PtagError`, itself an :class:`OSError`, so code that
already handles ``OSError`` keeps working; the subclasses also derive from the
matching built-in (``FileExistsError``, ``PermissionError``, ``ProcessLookupError``,
``KeyError``).  Messages are one line and say what to do.
"""

from __future__ import annotations

import errno as _errno
import os

__all__ = [
    "NotSupportedError",
    "PtagError",
    "TagExistsError",
    "TagLimitError",
    "TagNotFoundError",
    "TagPermissionError",
    "TagProcessLookupError",
    "error_from_errno",
    "exists_with_other_value",
]

DOCS_PAGE = "docs/quickstart.rst"


class PtagError(OSError):
    """Base class of every :mod:`ptag` error.

    Attributes: ``errno`` (the kernel's error number), ``strerror`` (the message),
    ``key`` (the tag key involved, or ``None``) and ``pid`` (the target process, or
    ``None`` when it was given only as a pidfd).
    """

    key: str | None
    pid: int | None

    def __init__(
        self, errno: int, strerror: str, key: str | None = None, pid: int | None = None
    ) -> None:
        super().__init__(errno, strerror)
        self.key = key
        self.pid = pid

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(
        self,
    ) -> tuple[type[PtagError], tuple[int | None, str | None, str | None, int | None]]:
        # Keep key and pid across pickling (multiprocessing, the test helpers).
        return (type(self), (self.errno, self.strerror, self.key, self.pid))


class TagExistsError(PtagError, FileExistsError):
    """``EEXIST``: the key is already set on the target; tags can never be changed."""


class TagLimitError(PtagError):
    """``ENOSPC`` (the target has ``MAX_TAGS`` tags) or ``E2BIG`` (too long)."""


class TagPermissionError(PtagError, PermissionError):
    """``EPERM``: the caller may not tag the target process."""


class TagProcessLookupError(PtagError, ProcessLookupError):
    """``ESRCH``: the target process does not exist or has exited."""


class TagNotFoundError(PtagError, KeyError):
    """``ENOENT``: the target has no tag with this key (:func:`ptag.get` returns the
    default instead of raising this)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.strerror)


class NotSupportedError(PtagError):
    """The running kernel has no ptag support (``CONFIG_PTAG`` is off or it is not
    the patched kernel).  ``errno`` is ``EOPNOTSUPP``."""

    def __init__(
        self,
        errno: int = _errno.EOPNOTSUPP,
        strerror: str | None = None,
        key: str | None = None,
        pid: int | None = None,
    ) -> None:
        if strerror is None:
            strerror = (
                "the running kernel lacks ptag support (PR_SET_PTAG/PR_GET_PTAG); boot the "
                f"patched kernel with `make demo`, see {DOCS_PAGE}"
            )
        super().__init__(errno, strerror, key, pid)


def exists_with_other_value(key: str, old: str, new: str, pid: int | None) -> TagExistsError:
    """The ``exist_ok=True`` failure: ``key`` is set, to ``old`` rather than ``new``."""
    return TagExistsError(
        _errno.EEXIST,
        f"tag {key!r} already exists on {_who(pid)} with value {old!r}, not {new!r}; tags "
        "can never be changed, use a different key",
        key,
        pid,
    )


def _who(pid: int | None) -> str:
    return "the target process" if pid is None else f"process {pid}"


def _tag(key: str | None) -> str:
    return "tag" if key is None else f"tag {key!r}"


def error_from_errno(err: int, key: str | None = None, pid: int | None = None) -> PtagError:
    """Return the :class:`PtagError` subclass instance for a ptag call that failed with
    ``err``, with a one-line message naming ``key`` and ``pid`` and saying what to do.

    ``EINVAL`` maps to a plain :class:`PtagError`: :mod:`ptag` validates arguments
    first, so the kernel rejecting them means the kernel and library disagree (the
    API turns ``EINVAL`` into :class:`NotSupportedError` when :func:`ptag.supported`
    is false).
    """
    who = _who(pid)
    if err == _errno.EEXIST:
        return TagExistsError(
            err,
            f"{_tag(key)} already exists on {who} and tags can never be changed or "
            "removed; use a different key",
            key,
            pid,
        )
    if err == _errno.ENOSPC:
        return TagLimitError(
            err,
            f"cannot add {_tag(key)}: {who} already has the maximum of 32 tags (inherited "
            "ones count) and tags cannot be removed; tag a process that has fewer",
            key,
            pid,
        )
    if err == _errno.E2BIG:
        return TagLimitError(
            err,
            f"{_tag(key)} rejected as too big: keys are at most 64 bytes and values at most "
            "256 bytes (E2BIG); shorten it",
            key,
            pid,
        )
    if err == _errno.EPERM:
        return TagPermissionError(
            err,
            f"not permitted to tag {who}: tagging another process needs the right to "
            "ptrace it (same real uid and dumpable, or CAP_SYS_PTRACE; Yama's "
            "ptrace_scope applies); run as its owner or as root",
            key,
            pid,
        )
    if err == _errno.ESRCH:
        return TagProcessLookupError(
            err, f"{who} does not exist or has exited; check the pid", key, pid
        )
    if err == _errno.ENOENT:
        return TagNotFoundError(
            err, f"{_tag(key)} is not set on {who if pid is not None else 'this process'}", key, pid
        )
    if err == _errno.EBADF:
        return PtagError(
            err,
            "the pidfd is not an open pidfd (EBADF); open one with os.pidfd_open(pid)",
            key,
            pid,
        )
    if err == _errno.EFAULT:
        return PtagError(
            err,
            "the kernel could not access a buffer (EFAULT); this is a bug in the caller",
            key,
            pid,
        )
    if err == _errno.ERANGE:
        return PtagError(
            err, f"the buffer for {_tag(key)} is too small (ERANGE); retry the call", key, pid
        )
    if err == _errno.EINVAL:
        return PtagError(
            err,
            f"the kernel rejected {_tag(key)} as invalid (EINVAL); check the key and value "
            "against ptag.validate_key/validate_value and the flags",
            key,
            pid,
        )
    return PtagError(err, f"ptag call on {who} failed: {os.strerror(err)}", key, pid)
