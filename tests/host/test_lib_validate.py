"""Key and value rules (kernel issue, contract point 7), checked in Python."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ptag
from ptag._validate import encode_key, encode_value

KEY_OK = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/:-")
KEY_FIRST = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def kernel_accepts_key(raw: bytes) -> bool:
    """The kernel's key rule, written from the ABI text, on bytes."""
    return 1 <= len(raw) <= 64 and raw[0] in KEY_FIRST and all(b in KEY_OK for b in raw)


def kernel_accepts_value(raw: bytes) -> bool:
    """The kernel's value rule, written from the ABI text, on bytes."""
    return len(raw) <= 256 and all(b >= 0x20 and b != 0x7F for b in raw)


def accepts(fn: object, arg: str) -> bool:
    try:
        fn(arg)  # type: ignore[operator]
    except ValueError:
        return False
    return True


# --- keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["a", "A", "0", "container.id", "k8s.pod.uid", "a/b:c-d_e.f", "9-", "x" * 64, "a" + "." * 63],
)
def test_valid_keys(key: str) -> None:
    ptag.validate_key(key)
    assert encode_key(key) == key.encode()


def test_key_length_boundary() -> None:
    ptag.validate_key("k" * 64)
    with pytest.raises(ValueError, match=r"65 bytes long; the maximum is 64"):
        ptag.validate_key("k" * 65)


def test_empty_key() -> None:
    with pytest.raises(ValueError, match="empty key"):
        ptag.validate_key("")


@pytest.mark.parametrize("first", [".", "_", "/", ":", "-"])
def test_first_character_must_be_letter_or_digit(first: str) -> None:
    ptag.validate_key("a" + first)
    with pytest.raises(ValueError, match=r"first character .* at position 0"):
        ptag.validate_key(first + "a")


@pytest.mark.parametrize("byte", sorted(set(range(128)) - KEY_OK))
def test_every_forbidden_ascii_byte_in_key(byte: int) -> None:
    key = "ab" + chr(byte) + "c"
    with pytest.raises(ValueError) as ei:
        ptag.validate_key(key)
    msg = str(ei.value)
    assert f"(0x{byte:02x}) at position 2 in key" in msg
    assert "\n" not in msg
    assert "A-Z a-z 0-9 . _ / : -" in msg


def test_key_error_message_names_character_and_position() -> None:
    with pytest.raises(ValueError) as ei:
        ptag.validate_key("a b")
    assert str(ei.value) == (
        "invalid character ' ' (0x20) at position 1 in key 'a b'; keys may contain only "
        "A-Z a-z 0-9 . _ / : - and must start with a letter or digit"
    )


def test_non_ascii_key_reports_byte_position() -> None:
    with pytest.raises(ValueError, match=re.escape("'é' (0xc3 0xa9) at position 3")):
        ptag.validate_key("abcé")
    with pytest.raises(ValueError, match=re.escape("'\\udcff' (0xff) at position 1")):
        ptag.validate_key("a\udcff")


def test_non_ascii_first_char() -> None:
    with pytest.raises(ValueError, match=re.escape("at position 0")):
        ptag.validate_key("éa")


@pytest.mark.parametrize("bad", [None, b"key", 1, ["a"]])
def test_key_type(bad: object) -> None:
    with pytest.raises(TypeError, match="key must be str"):
        ptag.validate_key(bad)  # type: ignore[arg-type]


def test_str_subclass_key() -> None:
    class S(str):
        pass

    assert encode_key(S("abc")) == b"abc"


# --- values -------------------------------------------------------------------------


def test_value_length_boundary() -> None:
    ptag.validate_value("")
    ptag.validate_value("v" * 256)
    with pytest.raises(ValueError, match=r"257 bytes long \(UTF-8\); the maximum is 256"):
        ptag.validate_value("v" * 257)


def test_value_length_counts_utf8_bytes() -> None:
    ptag.validate_value("é" * 128)  # 256 bytes
    with pytest.raises(ValueError, match="258 bytes"):
        ptag.validate_value("é" * 129)
    ptag.validate_value("\udcff" * 256)  # surrogateescape: one byte each
    with pytest.raises(ValueError, match="257 bytes"):
        ptag.validate_value("\udcff" * 257)


@pytest.mark.parametrize("byte", [*range(0x20), 0x7F])
def test_every_forbidden_value_byte(byte: int) -> None:
    value = "é=" + chr(byte)
    with pytest.raises(ValueError) as ei:
        ptag.validate_value(value)
    msg = str(ei.value)
    assert f"(0x{byte:02x}) at position 3 in value" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("byte", [0x20, 0x7E, 0x80, 0xFF])
def test_allowed_value_bytes(byte: int) -> None:
    raw = bytes([byte])
    ptag.validate_value(raw.decode("utf-8", "surrogateescape"))


def test_value_may_hold_spaces_equals_and_unicode() -> None:
    for v in ["a b", "a=b=c", " lead", "trail ", "日本語", "emoji 🙂", "\u0085", "\u2028"]:
        assert encode_value(v) == v.encode()


def test_lone_surrogate_value_is_rejected() -> None:
    with pytest.raises(ValueError, match=re.escape("U+D800") + ".*position 1"):
        ptag.validate_value("a\ud800")
    with pytest.raises(ValueError, match="lone surrogate"):
        ptag.validate_value("\udc41")  # below U+DC80: not a surrogateescape byte


@pytest.mark.parametrize("bad", [None, b"value", 1.0])
def test_value_type(bad: object) -> None:
    with pytest.raises(TypeError, match="value must be str"):
        ptag.validate_value(bad)  # type: ignore[arg-type]


def test_surrogateescape_round_trip() -> None:
    raw = b"\xff\xfe caf\xc3\xa9 \x80"
    text = raw.decode("utf-8", "surrogateescape")
    assert encode_value(text) == raw


# --- properties ----------------------------------------------------------------------

KEY_ALPHABET = st.sampled_from(sorted({chr(b) for b in range(128)} | {"é", "\udcff", "ß"}))


@given(st.text(alphabet=KEY_ALPHABET, max_size=70))
def test_key_rule_matches_kernel_model(key: str) -> None:
    expected = kernel_accepts_key(key.encode("utf-8", "surrogateescape"))
    assert accepts(ptag.validate_key, key) is expected


@given(st.text(alphabet=st.sampled_from(sorted(chr(b) for b in KEY_OK)), min_size=1, max_size=80))
def test_key_rule_matches_kernel_model_near_valid(key: str) -> None:
    expected = kernel_accepts_key(key.encode())
    assert accepts(ptag.validate_key, key) is expected


@given(st.binary(max_size=300))
def test_value_rule_matches_kernel_model_on_bytes(raw: bytes) -> None:
    text = raw.decode("utf-8", "surrogateescape")
    assert accepts(ptag.validate_value, text) is kernel_accepts_value(raw)
    if kernel_accepts_value(raw):
        assert encode_value(text) == raw  # every byte string round-trips


@given(st.text(max_size=300))
def test_value_rule_matches_kernel_model_on_text(text: str) -> None:
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        assert not accepts(ptag.validate_value, text)
        return
    assert accepts(ptag.validate_value, text) is kernel_accepts_value(raw)


@given(st.text(max_size=80))
def test_key_errors_are_one_line_value_errors(key: str) -> None:
    try:
        ptag.validate_key(key)
    except ValueError as e:
        assert "\n" not in str(e).replace(repr(key), "")
