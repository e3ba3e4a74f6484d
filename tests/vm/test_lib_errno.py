"""Every errno the ABI defines, provoked on the real kernel, and what the library
makes of it.  Raw ``_abi`` calls provoke the errors the API's own validation
prevents.  Every test runs in a forked child."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable
from typing import Any

import pytest

import ptag
from ptag import _abi

Child = Callable[..., Any]
BAD_ADDR = 8  # in the never-mapped first page


class Raw:
    """Build ``struct ptag_args`` by hand and call prctl with it."""

    def __init__(self) -> None:
        self.keep: list[Any] = []

    def buf(self, data: bytes = b"", size: int | None = None) -> int:
        b = ctypes.create_string_buffer(data, size if size is not None else max(len(data), 1))
        self.keep.append(b)
        return ctypes.addressof(b)

    def args(self, key: bytes | None, value: bytes = b"", **fields: int) -> _abi.PtagArgs:
        """SET-style args (``value`` is the input), NUL-terminating the key."""
        a = _abi.PtagArgs(
            key=0 if key is None else self.buf(key + b"\0"),
            value=self.buf(value),
            value_len=len(value),
        )
        for name, v in fields.items():
            setattr(a, "__reserved" if name == "reserved" else name, v)
        self.keep.append(a)
        return a

    def out(self, key: bytes | None, size: int, **fields: int) -> tuple[_abi.PtagArgs, Any]:
        """GET-style args with an output buffer of ``size`` bytes prefilled with 'X'."""
        a = self.args(key, b"", **fields)
        b = ctypes.create_string_buffer(b"X" * max(size, 1), max(size, 1))
        self.keep.append(b)
        a.value = ctypes.addressof(b)
        a.value_len = size
        return a, b


def call(op: int, args: Any, size: int = 40, arg4: int = 0, arg5: int = 0) -> tuple[int, int]:
    """prctl(op, &args, size, arg4, arg5) -> (return value, errno or 0)."""
    addr = args if isinstance(args, int) else ctypes.addressof(args)
    ret = _abi.prctl(op, addr, size, arg4, arg5)
    return ret, ctypes.get_errno() if ret == -1 else 0


SET, GET = ptag.PR_SET_PTAG, ptag.PR_GET_PTAG


def einval_cases() -> list[tuple[str, Callable[[Raw], tuple[int, int]]]]:
    return [
        ("set flags bit 1", lambda r: call(SET, r.args(b"k", b"v", flags=2))),
        ("set flags bit 63", lambda r: call(SET, r.args(b"k", b"v", flags=1 << 63))),
        ("set reserved", lambda r: call(SET, r.args(b"k", b"v", reserved=1))),
        ("set arg4", lambda r: call(SET, r.args(b"k", b"v"), arg4=1)),
        ("set arg5", lambda r: call(SET, r.args(b"k", b"v"), arg5=1)),
        ("set size 39", lambda r: call(SET, r.args(b"k", b"v"), size=39)),
        ("set size 0", lambda r: call(SET, r.args(b"k", b"v"), size=0)),
        ("set empty key", lambda r: call(SET, r.args(b"", b"v"))),
        ("set key space", lambda r: call(SET, r.args(b"a b", b"v"))),
        ("set key first dot", lambda r: call(SET, r.args(b".a", b"v"))),
        ("set key utf8", lambda r: call(SET, r.args(b"caf\xc3\xa9", b"v"))),
        ("set value newline", lambda r: call(SET, r.args(b"k", b"a\nb"))),
        ("set value nul", lambda r: call(SET, r.args(b"k", b"a\0b"))),
        ("set value del", lambda r: call(SET, r.args(b"k", b"\x7f"))),
        ("get flags", lambda r: call(GET, r.out(b"k", 16, flags=2)[0])),
        ("get reserved", lambda r: call(GET, r.out(b"k", 16, reserved=1)[0])),
        ("get arg4", lambda r: call(GET, r.out(b"k", 16)[0], arg4=1)),
        ("get arg5", lambda r: call(GET, r.out(b"k", 16)[0], arg5=1)),
        ("get size 32", lambda r: call(GET, r.out(b"k", 16)[0], size=32)),
        ("list flags", lambda r: call(GET, r.out(None, 16, flags=4)[0])),
    ]


@pytest.mark.parametrize(("name", "case"), einval_cases(), ids=[n for n, _ in einval_cases()])
def test_einval(in_child: Child, name: str, case: Callable[[Raw], tuple[int, int]]) -> None:
    def body() -> None:
        ptag.set("before", "1")
        assert case(Raw()) == (-1, errno.EINVAL), name
        assert list(ptag.tags()) == ["before"]  # a rejected call changes nothing
        e = ptag.error_from_errno(errno.EINVAL)
        assert type(e) is ptag.PtagError

    in_child(body)


def test_e2big(in_child: Child) -> None:
    def body() -> None:
        r = Raw()
        assert call(SET, r.args(b"k" * 65, b"v")) == (-1, errno.E2BIG)
        assert call(SET, r.args(b"k" * 300, b"v")) == (-1, errno.E2BIG)
        assert call(SET, r.args(b"k", b"v" * 257)) == (-1, errno.E2BIG)
        with pytest.raises(OSError, match="") as ei:
            _abi.set_tag(b"k" * 65, b"v")
        assert ei.value.errno == errno.E2BIG
        assert isinstance(ptag.error_from_errno(errno.E2BIG), ptag.TagLimitError)
        # the boundaries themselves pass
        assert call(SET, r.args(b"k" * 64, b"v" * 256)) == (0, 0)
        assert list(ptag.tags()) == ["k" * 64]

    in_child(body)


def test_struct_tail(in_child: Child) -> None:
    """A bigger struct is read with copy_struct_from_user: a zero tail is fine, a
    non-zero tail byte is E2BIG."""

    def body() -> None:
        r = Raw()

        def big(a: _abi.PtagArgs, tail: bytes) -> ctypes.Array[ctypes.c_char]:
            b = ctypes.create_string_buffer(bytes(a) + tail, 40 + len(tail))
            r.keep.append(b)
            return b

        for tail in (b"\0" * 7 + b"\1", b"\1" + b"\0" * 7, b"\0" * 4095 + b"\xff"):
            b = big(r.args(b"k", b"v"), tail)
            assert call(SET, ctypes.addressof(b), size=len(b)) == (-1, errno.E2BIG)
            a, _ = r.out(b"k", 8)
            b = big(a, tail)
            assert call(GET, ctypes.addressof(b), size=len(b)) == (-1, errno.E2BIG)
        assert dict(ptag.tags()) == {}
        b = big(r.args(b"k", b"v"), b"\0" * 8)
        assert call(SET, ctypes.addressof(b), size=48) == (0, 0)
        a, out = r.out(b"k", 8)
        b = big(a, b"\0" * 24)
        assert call(GET, ctypes.addressof(b), size=64) == (1, 0)
        assert out.raw[:1] == b"v"

    in_child(body)


def test_enospc(in_child: Child) -> None:
    def body() -> None:
        for i in range(ptag.MAX_TAGS):
            _abi.set_tag(f"k{i}".encode(), b"v")
        with pytest.raises(OSError, match="") as raw:
            _abi.set_tag(b"k32", b"v")
        assert raw.value.errno == errno.ENOSPC
        with pytest.raises(ptag.TagLimitError) as ei:
            ptag.set("k32", "v")
        assert ei.value.errno == errno.ENOSPC
        assert len(ptag.tags()) == 32

    in_child(body)


def test_eexist(in_child: Child) -> None:
    def body() -> None:
        _abi.set_tag(b"k", b"v")
        for v in (b"v", b"w", b""):
            with pytest.raises(OSError, match="") as raw:
                _abi.set_tag(b"k", v)
            assert raw.value.errno == errno.EEXIST
        with pytest.raises(ptag.TagExistsError):
            ptag.set("k", "v")
        assert ptag.get("k") == "v"

    in_child(body)


def test_esrch_reaped_child(in_child: Child) -> None:
    def body() -> None:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        fd = os.pidfd_open(pid)  # before reaping: still valid
        os.waitpid(pid, 0)
        try:
            for raw in (
                lambda: _abi.set_tag(b"k", b"v", fd),
                lambda: _abi.get_tag(b"k", fd),
                lambda: _abi.list_tags(fd),
            ):
                with pytest.raises(OSError, match="") as ei:
                    raw()
                assert ei.value.errno == errno.ESRCH
            for api in (
                lambda: ptag.set("k", "v", pidfd=fd),
                lambda: ptag.get("k", pidfd=fd),
                lambda: ptag.tags(pidfd=fd),
            ):
                with pytest.raises(ptag.TagProcessLookupError) as e2:
                    api()
                assert e2.value.errno == errno.ESRCH
                assert isinstance(e2.value, ProcessLookupError)
        finally:
            os.close(fd)

    in_child(body)


def test_ebadf(in_child: Child) -> None:
    def body() -> None:
        fd = os.open("/dev/null", os.O_RDONLY)
        closed = os.open("/dev/null", os.O_RDONLY)
        os.close(closed)
        try:
            for target in (fd, closed, 0, 1):
                with pytest.raises(OSError, match="") as raw:
                    _abi.set_tag(b"k", b"v", target)
                assert raw.value.errno == errno.EBADF
            for api in (
                lambda: ptag.set("k", "v", pidfd=fd),
                lambda: ptag.get("k", pidfd=fd),
                lambda: ptag.tags(pidfd=fd),
                lambda: ptag.set("k", "v", pidfd=closed),
            ):
                with pytest.raises(ptag.PtagError) as ei:
                    api()
                assert type(ei.value) is ptag.PtagError
                assert ei.value.errno == errno.EBADF
                assert "pidfd" in str(ei.value)
            assert dict(ptag.tags()) == {}
        finally:
            os.close(fd)

    in_child(body)


def test_efault(in_child: Child) -> None:
    def body() -> None:
        r = Raw()
        assert call(SET, BAD_ADDR) == (-1, errno.EFAULT)
        assert call(GET, BAD_ADDR) == (-1, errno.EFAULT)
        a = r.args(b"k", b"v")
        a.key = BAD_ADDR
        assert call(SET, a) == (-1, errno.EFAULT)
        a = r.args(b"k", b"vvv")
        a.value = BAD_ADDR
        assert call(SET, a) == (-1, errno.EFAULT)
        assert dict(ptag.tags()) == {}  # nothing was set
        ptag.set("k", "value")
        a, _ = r.out(b"k", 64)
        a.value = BAD_ADDR
        assert call(GET, a) == (-1, errno.EFAULT)
        a, _ = r.out(None, 64)
        a.value = BAD_ADDR
        assert call(GET, a) == (-1, errno.EFAULT)
        a, _ = r.out(b"k", 64)
        a.key = BAD_ADDR
        assert call(GET, a) == (-1, errno.EFAULT)
        assert type(ptag.error_from_errno(errno.EFAULT)) is ptag.PtagError

    in_child(body)


def test_enoent(in_child: Child) -> None:
    def body() -> None:
        r = Raw()
        a, _ = r.out(b"missing", 16)
        assert call(GET, a) == (-1, errno.ENOENT)
        a, _ = r.out(b"missing", 0)
        assert call(GET, a) == (-1, errno.ENOENT)
        assert ptag.get("missing") is None
        assert ptag.get("missing", 7) == 7
        ptag.set("present", "1")
        assert ptag.get("missing", "d") == "d"
        assert isinstance(ptag.error_from_errno(errno.ENOENT), KeyError)

    in_child(body)


def test_erange_and_size_probe(in_child: Child) -> None:
    def body() -> None:
        r = Raw()
        ptag.set("a", "hello")
        ptag.set("bc", "")
        # GET: value_len 0 is a size probe; too small is ERANGE; exact fits, no NUL added
        a, _ = r.out(b"a", 0)
        assert call(GET, a) == (5, 0)
        for small in (1, 4):
            a, _ = r.out(b"a", small)
            assert call(GET, a) == (-1, errno.ERANGE)
        a, out = r.out(b"a", 5)
        assert call(GET, a) == (5, 0)
        assert out.raw == b"hello"
        assert a.owner == os.geteuid()
        a, out = r.out(b"a", 8)
        assert call(GET, a) == (5, 0)
        assert out.raw[:8] == b"helloXXX"
        a, _ = r.out(b"bc", 0)
        assert call(GET, a) == (0, 0)  # an empty value
        # list: "a\0bc\0", oldest first, listxattr-style
        a, _ = r.out(None, 0)
        assert call(GET, a) == (5, 0)
        a, _ = r.out(None, 4)
        assert call(GET, a) == (-1, errno.ERANGE)
        a, out = r.out(None, 5)
        assert call(GET, a) == (5, 0)
        assert out.raw == b"a\0bc\0"
        assert _abi.list_tags() == [b"a", b"bc"]
        assert type(ptag.error_from_errno(errno.ERANGE)) is ptag.PtagError

    in_child(body)


def test_list_empty(in_child: Child) -> None:
    def body() -> None:
        r = Raw()
        a, _ = r.out(None, 0)
        assert call(GET, a) == (0, 0)
        assert _abi.list_tags() == []
        assert dict(ptag.tags()) == {}

    in_child(body)


def test_get_by_pidfd_writes_owner(in_child: Child, waiter: Any) -> None:
    def body() -> None:
        with waiter() as w:
            ptag.set("k", "v", pid=w.pid)
            fd = os.pidfd_open(w.pid)
            try:
                assert _abi.get_tag(b"k", fd) == (b"v", os.geteuid())
                assert _abi.list_tags(fd) == [b"k"]
            finally:
                os.close(fd)

    in_child(body)
