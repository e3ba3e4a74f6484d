"""Property: ``validate_key``/``validate_value`` accept exactly what the kernel accepts.
Each example is tried on the kernel in a forked child."""

from __future__ import annotations

import errno
import string
from collections.abc import Callable
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

import ptag
from ptag import _abi

Child = Callable[..., Any]
KERNEL = settings(max_examples=200, deadline=None, database=None)
KEY_CHARS = string.ascii_letters + string.digits + "._/:-"

# NUL is left out of keys: the kernel reads a key up to its NUL, so a raw key with an
# embedded NUL is a different key (the library rejects it before any call).
KEYS = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x7F), max_size=70),
    st.text(alphabet=st.sampled_from(KEY_CHARS), max_size=70),
    st.text(alphabet=st.sampled_from(KEY_CHARS), min_size=63, max_size=66),
    st.text(alphabet=st.sampled_from("aZ9.-_/: \x7fé\udcff\x01"), max_size=6),
)
VALUES = st.one_of(
    st.binary(max_size=300),
    st.binary(min_size=254, max_size=258),
    st.text(max_size=270).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


def accepts(fn: Callable[[str], None], arg: str) -> bool:
    try:
        fn(arg)
    except ValueError:
        return False
    return True


def kernel_set(key: bytes, value: bytes) -> int:
    """Try the raw SET; return 0 or the errno.  On success, check the read-back."""
    try:
        _abi.set_tag(key, value)
    except OSError as e:
        assert e.errno is not None
        return e.errno
    assert _abi.get_tag(key) == (value, 0)
    assert _abi.list_tags() == [key]
    assert ptag.read_proc_tags()[key.decode()].value.encode("utf-8", "surrogateescape") == value
    return 0


@KERNEL
@given(KEYS)
def test_key_rule_matches_kernel(in_child: Child, key: str) -> None:
    raw = key.encode("utf-8", "surrogateescape")
    err = in_child(kernel_set, raw, b"v")
    assert (err == 0) is accepts(ptag.validate_key, key), (key, err)
    assert err in (0, errno.EINVAL, errno.E2BIG)


@KERNEL
@given(VALUES)
def test_value_rule_matches_kernel(in_child: Child, raw: bytes) -> None:
    text = raw.decode("utf-8", "surrogateescape")
    err = in_child(kernel_set, b"k", raw)
    assert (err == 0) is accepts(ptag.validate_value, text), (raw, err)
    assert err in (0, errno.EINVAL, errno.E2BIG)


@KERNEL
@given(st.text(max_size=80))
def test_unencodable_text_never_reaches_the_kernel(in_child: Child, text: str) -> None:
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        assert not accepts(ptag.validate_value, text)
        return
    assume(b"\0" not in raw)
    err = in_child(kernel_set, b"k", raw)
    assert (err == 0) is accepts(ptag.validate_value, text)
