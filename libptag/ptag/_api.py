"""``supported``, ``set``, ``get`` and ``tags``: the system-call API on top of ``_abi``.

Every function validates its arguments before any system call, targets the caller
unless given ``pid`` (opened as a pidfd first, so PID reuse cannot redirect the call)
or ``pidfd``, and raises :class:`~ptag.PtagError` subclasses on failure.
"""

from __future__ import annotations

import errno
import os
from _thread import allocate_lock
from types import MappingProxyType

from ._errors import (
    DOCS_PAGE,
    NotSupportedError,
    TagProcessLookupError,
    error_from_errno,
    exists_with_other_value,
)
from ._types import Tag
from ._validate import encode_key, encode_value

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs milliseconds
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import NoReturn, TypeVar, overload

    _T = TypeVar("_T")

__all__ = ["get", "set", "supported", "tags"]

_PROBE_KEY = b"ptag.probe"
_lock = allocate_lock()
_supported: bool | None = None
_probe_errno = 0


def _after_fork_in_child() -> None:
    # A fork while another thread held the probe lock must not deadlock the child.
    global _lock
    _lock = allocate_lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


# ptag._abi loads ctypes, which costs more than all the rest of `import ptag`, and
# nothing but a system call needs it (process_iter and read_proc_tags read /proc).
# So it is imported by the first call: until then these three names are stubs that
# import it, rebind all three names to its functions and make the call.  The hot
# path, get(key), pays one global lookup, as it did for `_abi.get_tag`.
#
# An import takes importlib's per-module locks, and a child forked while another
# thread holds them would block for good on its own first call; so a fork waits
# for an import in progress to finish first (_before_fork).
_abi_loading = False


def _load_abi() -> None:
    global _get_tag, _set_tag, _list_tags, _abi_loading
    _abi_loading = True
    from . import _abi

    _get_tag, _set_tag, _list_tags = _abi.get_tag, _abi.set_tag, _abi.list_tags


def _before_fork() -> None:
    if _abi_loading:
        # not contextlib.suppress: `import ptag` does not load contextlib
        try:  # noqa: SIM105
            from . import _abi  # noqa: F401  (returns when the other thread's import is done)
        except ImportError:
            pass  # the thread that started the import reports the error


os.register_at_fork(before=_before_fork)


def _get_tag(key: bytes, pidfd: int | None = None) -> tuple[bytes, int]:
    _load_abi()
    return _get_tag(key, pidfd)


def _set_tag(key: bytes, value: bytes, pidfd: int | None = None) -> None:
    _load_abi()
    _set_tag(key, value, pidfd)


def _list_tags(pidfd: int | None = None) -> list[bytes]:
    _load_abi()
    return _list_tags(pidfd)


def supported() -> bool:
    """Return whether the running kernel supports process tags.

    Probes once (a ``PR_GET_PTAG`` of a missing key: ``ENOENT`` on a ptag kernel,
    ``EINVAL`` without) and caches the answer; thread-safe.
    """
    global _supported, _probe_errno
    s = _supported
    if s is not None:
        return s
    with _lock:
        if _supported is None:
            try:
                _get_tag(_PROBE_KEY)
                _supported = True
            except OSError as e:
                _probe_errno = e.errno or 0
                _supported = e.errno in (errno.ENOENT, errno.ERANGE)
        return _supported


def _not_supported(key: str | None, pid: int | None) -> NotSupportedError:
    """The error for a kernel without ptags; says why if the probe was blocked."""
    if _probe_errno in (0, errno.EINVAL):
        return NotSupportedError(key=key, pid=pid)
    name = errno.errorcode.get(_probe_errno, str(_probe_errno))
    return NotSupportedError(
        errno.EOPNOTSUPP,
        f"PR_GET_PTAG failed with {name} when probing for ptag support (a seccomp filter "
        "blocking prctl?); allow prctl options 82 and 83, or boot the patched kernel with "
        f"`make demo`, see {DOCS_PAGE}",
        key,
        pid,
    )


def _err_pid(pid: int | None, pidfd: int | None) -> int | None:
    """The pid an error reports: the given one, the caller's, or None for a pidfd."""
    if pid is None and pidfd is None:
        return os.getpid()
    return pid


def _fail(err: int | None, key: str | None, pid: int | None, pidfd: int | None) -> NoReturn:
    """Raise the exception for a failed prctl."""
    err = err or errno.EIO
    if err == errno.EINVAL and not supported():
        raise _not_supported(key, pid) from None
    raise error_from_errno(err, key, _err_pid(pid, pidfd)) from None


def _check_target(pid: int | None, pidfd: int | None) -> None:
    """Reject malformed ``pid``/``pidfd`` arguments before anything else happens."""
    for name, v, low in (("pid", pid, 1), ("pidfd", pidfd, 0)):
        if v is None:
            continue
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"{name} must be int or None, not {type(v).__name__}")
        if v < low:
            raise ValueError(f"{name} must be >= {low}, not {v}")
    if pid is not None and pidfd is not None:
        raise ValueError("pass pid or pidfd, not both")


def _open(pid: int | None, pidfd: int | None, key: str | None) -> tuple[int | None, bool]:
    """Check the arguments and kernel support, then resolve the target:
    ``(None, False)`` for the caller, else ``(fd, must_close)``; a ``pid`` is opened
    as a pidfd."""
    _check_target(pid, pidfd)
    if _supported is not True and not supported():
        raise _not_supported(key, _err_pid(pid, pidfd))
    if pid is None:
        return pidfd, False
    try:
        return os.pidfd_open(pid), True
    except OSError as e:
        if e.errno == errno.ESRCH:
            raise error_from_errno(errno.ESRCH, key, pid) from None
        if e.errno in (errno.EINVAL, errno.ENOENT):
            raise TagProcessLookupError(
                errno.ESRCH,
                f"{pid} is not a process id (a thread id?); pass the process (thread-group) id",
                key,
                pid,
            ) from None
        raise


def _close(fd: int | None, close: bool) -> None:
    if close and fd is not None:
        os.close(fd)


def set(
    key: str,
    value: str,
    *,
    pid: int | None = None,
    pidfd: int | None = None,
    exist_ok: bool = False,
) -> None:
    """Tag the caller (or the process ``pid``, or the pidfd ``pidfd``) with ``key=value``.

    The tag can never be changed or removed, and every child inherits it.  ``key``
    and ``value`` are validated first (:class:`ValueError`, :class:`TypeError`).
    With ``exist_ok=True``, setting a key that already has exactly this value is a
    no-op; a different value still raises :class:`~ptag.TagExistsError`, whose
    message shows both values.

    Raises :class:`~ptag.TagExistsError` (the key is set), :class:`~ptag.TagLimitError`
    (32 tags already), :class:`~ptag.TagPermissionError` (tagging another process
    needs what ``PTRACE_ATTACH`` needs with the real credentials, Yama included),
    :class:`~ptag.TagProcessLookupError` (no such process, or it has exited) and
    :class:`~ptag.NotSupportedError` (the kernel lacks ptags).
    """
    kb = encode_key(key)
    vb = encode_value(value)
    fd, close = _open(pid, pidfd, key)
    try:
        try:
            _set_tag(kb, vb, fd)
            return
        except OSError as e:
            err = e.errno
        if err == errno.EEXIST and exist_ok:
            try:
                old: bytes | None = _get_tag(kb, fd)[0]
            except OSError:
                old = None
            if old == vb:
                return
            if old is not None:
                raise exists_with_other_value(
                    key, old.decode("utf-8", "surrogateescape"), value, _err_pid(pid, pidfd)
                )
        _fail(err, key, pid, pidfd)
    finally:
        _close(fd, close)


if TYPE_CHECKING:

    @overload
    def get(
        key: str, default: None = None, *, pid: int | None = None, pidfd: int | None = None
    ) -> str | None: ...
    @overload
    def get(
        key: str, default: _T, *, pid: int | None = None, pidfd: int | None = None
    ) -> str | _T: ...


def get(
    key: str, default: object = None, *, pid: int | None = None, pidfd: int | None = None
) -> object:
    """Return the value of tag ``key`` on the caller (or ``pid`` / ``pidfd``), or
    ``default`` if that process has no such tag.

    Reading another process needs only being able to see it.  Raises
    :class:`~ptag.TagProcessLookupError`, :class:`~ptag.NotSupportedError` and, for
    an invalid key, :class:`ValueError` / :class:`TypeError`.
    """
    kb = encode_key(key)
    if pid is None and pidfd is None:  # the hot path: no pidfd, no extra calls
        if _supported is not True and not supported():
            raise _not_supported(key, os.getpid())
        try:
            value = _get_tag(kb)[0]
        except OSError as e:
            if e.errno == errno.ENOENT:
                return default
            _fail(e.errno, key, None, None)
        return value.decode("utf-8", "surrogateescape")
    fd, close = _open(pid, pidfd, key)
    try:
        try:
            value = _get_tag(kb, fd)[0]
        except OSError as e:
            if e.errno == errno.ENOENT:
                return default
            _fail(e.errno, key, pid, pidfd)
        return value.decode("utf-8", "surrogateescape")
    finally:
        _close(fd, close)


def tags(pid: int | None = None, *, pidfd: int | None = None) -> Mapping[str, Tag]:
    """Return every tag of the caller (or ``pid`` / ``pidfd``), oldest first, as a
    read-only mapping from key to :class:`~ptag.Tag`.

    Uses the system calls (list the keys, then get each), so it works where /proc
    is not mounted; :func:`ptag.read_proc_tags` reads the same data from /proc.
    Raises :class:`~ptag.TagProcessLookupError` and :class:`~ptag.NotSupportedError`.
    """
    fd, close = _open(pid, pidfd, None)
    try:
        try:
            keys = _list_tags(fd)
        except OSError as e:
            _fail(e.errno, None, pid, pidfd)
        out: dict[str, Tag] = {}
        for kb in keys:
            k = kb.decode("utf-8", "surrogateescape")
            try:
                value, owner = _get_tag(kb, fd)
            except OSError as e:
                _fail(e.errno, k, pid, pidfd)
            out[k] = Tag(k, value.decode("utf-8", "surrogateescape"), owner)
        return MappingProxyType(out)
    finally:
        _close(fd, close)
