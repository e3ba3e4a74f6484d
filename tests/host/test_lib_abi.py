"""``struct ptag_args`` and the raw prctl binding (``ptag._abi``)."""

from __future__ import annotations

import ctypes
import errno

import pytest

import ptag
from ptag import _abi


def test_uapi_constants() -> None:
    assert (ptag.PR_SET_PTAG, ptag.PR_GET_PTAG) == (82, 83)
    assert (ptag.MAX_TAGS, ptag.KEY_MAX, ptag.VALUE_MAX) == (32, 64, 256)
    assert _abi.PTAG_F_PIDFD == 1
    assert _abi.ARGS_SIZE_VER0 == 40


def test_struct_size_and_alignment() -> None:
    assert ctypes.sizeof(_abi.PtagArgs) == 40
    # __aligned_u64: 8-byte aligned even where u64 is not (i386)
    assert all(getattr(_abi.PtagArgs, f).offset % 8 == 0 for f in ("key", "value", "flags"))


@pytest.mark.parametrize(
    ("field", "offset", "size"),
    [
        ("key", 0, 8),
        ("value", 8, 8),
        ("value_len", 16, 4),
        ("pidfd", 20, 4),
        ("flags", 24, 8),
        ("owner", 32, 4),
        ("__reserved", 36, 4),
    ],
)
def test_struct_layout(field: str, offset: int, size: int) -> None:
    desc = getattr(_abi.PtagArgs, field)
    assert (desc.offset, desc.size) == (offset, size)


def test_struct_field_signedness() -> None:
    a = _abi.PtagArgs()
    a.pidfd = -1
    assert a.pidfd == -1  # __s32
    a.value_len = 2**32 - 1
    assert a.value_len == 2**32 - 1  # __u32
    a.flags = 2**64 - 1
    assert a.flags == 2**64 - 1  # __u64


def test_struct_bytes_are_little_endian_native() -> None:
    a = _abi.PtagArgs(key=1, value=2, value_len=3, pidfd=4, flags=5, owner=6)
    raw = bytes(a)
    assert len(raw) == 40
    assert raw[0] == 1 and raw[8] == 2 and raw[16] == 3 and raw[20] == 4
    assert raw[24] == 5 and raw[32] == 6 and raw[36:40] == b"\0\0\0\0"


def test_prctl_signature_declared() -> None:
    assert _abi.prctl.restype is ctypes.c_int
    assert _abi.prctl.argtypes is not None
    assert len(_abi.prctl.argtypes) == 5


def test_prctl_reports_errno() -> None:
    """A failing prctl returns -1 and leaves errno for ctypes.get_errno()."""
    assert _abi.prctl(-1, 0, 0, 0, 0) == -1
    assert ctypes.get_errno() == errno.EINVAL


def test_prctl_get_name_works() -> None:
    buf = ctypes.create_string_buffer(16)
    assert _abi.prctl(16, ctypes.addressof(buf), 0, 0, 0) == 0  # PR_GET_NAME
    assert buf.value


@pytest.mark.skipif(ptag.supported(), reason="this kernel supports ptags")
def test_raw_calls_fail_with_einval_without_ptags() -> None:
    for call in (
        lambda: _abi.set_tag(b"k", b"v"),
        lambda: _abi.get_tag(b"k"),
        lambda: _abi.list_tags(),
        lambda: _abi.get_tag(b"k", pidfd=0),
        lambda: _abi.set_tag(b"k" * 80, b"v"),
    ):
        with pytest.raises(OSError) as ei:
            call()
        assert ei.value.errno == errno.EINVAL
        assert type(ei.value) is OSError
