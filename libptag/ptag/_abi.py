"""The kernel ABI: the libc ``prctl`` binding and ``struct ptag_args``.

This is the only module of :mod:`ptag` that touches :mod:`ctypes`, and it is imported
only when the first system call is made (:mod:`ptag._api` loads it): ``import ptag``
and a scan of /proc do not pay for ctypes.  It mirrors ``struct ptag_args`` exactly
(the constants come from :mod:`ptag._uapi`, which needs no ctypes) and offers
three raw calls (:func:`set_tag`, :func:`get_tag`, :func:`list_tags`) that take and
return ``bytes`` and report failure as a plain :class:`OSError` carrying the kernel's
errno.  Nothing here validates or translates errors; :mod:`ptag._api` does that.
"""

from __future__ import annotations

import ctypes
import errno
import os
from _thread import _local

from ._uapi import (
    ARGS_SIZE_VER0,
    KEY_MAX,
    LIST_MAX,
    MAX_TAGS,
    PR_GET_PTAG,
    PR_SET_PTAG,
    PTAG_F_PIDFD,
    VALUE_MAX,
)

__all__ = [
    "ARGS_SIZE_VER0",
    "KEY_MAX",
    "MAX_TAGS",
    "PR_GET_PTAG",
    "PR_SET_PTAG",
    "PTAG_F_PIDFD",
    "VALUE_MAX",
    "PtagArgs",
    "get_tag",
    "list_tags",
    "prctl",
    "set_tag",
]


class PtagArgs(ctypes.Structure):
    """Mirror of ``struct ptag_args`` (``PTAG_ARGS_SIZE_VER0`` = 40 bytes).

    ``key`` and ``value`` are user-space addresses (``__aligned_u64``); ``__reserved``
    must be zero.
    """

    _fields_ = (
        ("key", ctypes.c_uint64),
        ("value", ctypes.c_uint64),
        ("value_len", ctypes.c_uint32),
        ("pidfd", ctypes.c_int32),
        ("flags", ctypes.c_uint64),
        ("owner", ctypes.c_uint32),
        ("__reserved", ctypes.c_uint32),
    )


# The layout is ABI: fail at import rather than pass the kernel a wrong struct.
assert ctypes.sizeof(PtagArgs) == ARGS_SIZE_VER0, ctypes.sizeof(PtagArgs)
assert ctypes.alignment(PtagArgs) == 8 or ctypes.alignment(ctypes.c_uint64) < 8
for _name, _off in (
    ("key", 0),
    ("value", 8),
    ("value_len", 16),
    ("pidfd", 20),
    ("flags", 24),
    ("owner", 32),
    ("__reserved", 36),
):
    assert getattr(PtagArgs, _name).offset == _off, (_name, _off)
del _name, _off

# One handle on the already-loaded libc: CDLL(None) is dlopen(NULL), which works on
# glibc and musl alike (find_library does not work on musl).
_libc = ctypes.CDLL(None, use_errno=True)
prctl = _libc.prctl
prctl.argtypes = (
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
)
prctl.restype = ctypes.c_int
_get_errno = ctypes.get_errno


class _Scratch:
    """Per-thread, reusable call buffers: an args struct, a key and a value buffer."""

    __slots__ = (
        "args",
        "args_addr",
        "key",
        "key_addr",
        "long_key",
        "out",
        "out_addr",
        "out_len",
    )

    def __init__(self) -> None:
        self.args = PtagArgs()
        self.args_addr = ctypes.addressof(self.args)
        self.key = ctypes.create_string_buffer(KEY_MAX + 1)
        self.key_addr = ctypes.addressof(self.key)
        self.out = ctypes.create_string_buffer(LIST_MAX)
        self.out_addr = ctypes.addressof(self.out)
        self.out_len = LIST_MAX
        self.long_key: ctypes.Array[ctypes.c_char] | None = None


# Scratch buffers are per thread; a call takes the thread's buffer out of the slot
# and puts it back afterwards, so a re-entrant call (a signal handler running
# between two bytecodes of this module) simply allocates its own.
_tls = _local()  # threading.local, without importing threading


def _take() -> _Scratch:
    s: _Scratch | None = getattr(_tls, "s", None)
    if s is None:
        return _Scratch()
    _tls.s = None
    return s


def _give(s: _Scratch) -> None:
    _tls.s = s


def _fill(s: _Scratch, key: bytes | None, pidfd: int | None) -> PtagArgs:
    a = s.args
    if key is None:
        a.key = 0
    elif len(key) <= KEY_MAX:
        s.key.value = key  # copies and NUL-terminates
        a.key = s.key_addr
    else:  # too long for the kernel, which will say so (E2BIG); keep it alive in s
        s.long_key = ctypes.create_string_buffer(key)
        a.key = ctypes.addressof(s.long_key)
    if pidfd is None:
        a.pidfd = 0
        a.flags = 0
    else:
        a.pidfd = pidfd
        a.flags = PTAG_F_PIDFD
    a.owner = 0
    setattr(a, "__reserved", 0)  # a.__reserved would be name-mangled
    return a


def _fail() -> OSError:
    err = _get_errno()
    return OSError(err, os.strerror(err))


def set_tag(key: bytes, value: bytes, pidfd: int | None = None) -> None:
    """``PR_SET_PTAG``: add ``key=value`` to the caller, or to ``pidfd``'s process.

    ``key`` must not contain NUL (it is NUL-terminated here); ``value`` is passed with
    its length.  Raises :class:`OSError` with the kernel's errno on failure.
    """
    s = _take()
    try:
        a = _fill(s, key, pidfd)
        vbuf = ctypes.create_string_buffer(value, len(value) or 1)
        a.value = ctypes.addressof(vbuf)
        a.value_len = len(value)
        if prctl(PR_SET_PTAG, s.args_addr, ARGS_SIZE_VER0, 0, 0) == -1:
            raise _fail()
    finally:
        _give(s)


def _get(key: bytes | None, pidfd: int | None) -> tuple[bytes, int]:
    s = _take()
    try:
        a = _fill(s, key, pidfd)
        a.value = s.out_addr
        a.value_len = s.out_len
        n = prctl(PR_GET_PTAG, s.args_addr, ARGS_SIZE_VER0, 0, 0)
        if n == -1:
            err = _get_errno()
            if err != errno.ERANGE:  # only if a future kernel raised the limits
                raise OSError(err, os.strerror(err))
            return _get_slow(key, pidfd)
        return s.out.raw[:n], a.owner
    finally:
        _give(s)


def _get_slow(key: bytes | None, pidfd: int | None) -> tuple[bytes, int]:
    """Size probe, then a buffer of that size; retried if the data grew meanwhile."""
    s = _Scratch()
    while True:
        a = _fill(s, key, pidfd)
        a.value = 0
        a.value_len = 0
        n = prctl(PR_GET_PTAG, s.args_addr, ARGS_SIZE_VER0, 0, 0)
        if n == -1:
            raise _fail()
        buf = ctypes.create_string_buffer(n or 1)
        a = _fill(s, key, pidfd)
        a.value = ctypes.addressof(buf)
        a.value_len = n
        m = prctl(PR_GET_PTAG, s.args_addr, ARGS_SIZE_VER0, 0, 0)
        if m == -1:
            err = _get_errno()
            if err == errno.ERANGE:  # grew between the probe and the read
                continue
            raise OSError(err, os.strerror(err))
        return buf.raw[:m], a.owner


class _SelfGet:
    """Per-thread args preset for the hot path, ``get(key)`` on the caller itself:
    only the key bytes and ``owner`` change between calls."""

    __slots__ = ("args", "args_addr", "key", "out")

    def __init__(self) -> None:
        self.key = ctypes.create_string_buffer(KEY_MAX + 1)
        self.out = ctypes.create_string_buffer(VALUE_MAX)
        self.args = PtagArgs(
            key=ctypes.addressof(self.key),
            value=ctypes.addressof(self.out),
            value_len=VALUE_MAX,
        )
        self.args_addr = ctypes.addressof(self.args)


def get_tag(key: bytes, pidfd: int | None = None) -> tuple[bytes, int]:
    """``PR_GET_PTAG`` with a key: return ``(value, owner_uid)``.

    Raises :class:`OSError` with the kernel's errno (``ENOENT`` for a missing key).
    """
    if pidfd is not None or len(key) > KEY_MAX:
        return _get(key, pidfd)
    g: _SelfGet | None = getattr(_tls, "g", None)
    if g is None:
        g = _SelfGet()
    else:
        _tls.g = None
    try:
        g.key.value = key
        a = g.args
        a.owner = 0
        n = prctl(PR_GET_PTAG, g.args_addr, ARGS_SIZE_VER0, 0, 0)
        if n == -1:
            err = _get_errno()
            if err == errno.ERANGE:
                return _get_slow(key, None)
            raise OSError(err, os.strerror(err))
        return g.out.raw[:n], a.owner
    finally:
        _tls.g = g


def list_tags(pidfd: int | None = None) -> list[bytes]:
    """``PR_GET_PTAG`` with key 0: return the keys, oldest first.

    Raises :class:`OSError` with the kernel's errno.
    """
    data, _ = _get(None, pidfd)
    return data.split(b"\0")[:-1] if data else []
