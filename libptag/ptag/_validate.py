"""The kernel's key and value rules, checked before any system call.

Shared by the API and the CLI.  Keys: 1..64 bytes of ``[A-Za-z0-9._/:-]``, the first
a letter or digit.  Values: 0..256 bytes once encoded as UTF-8 with
``surrogateescape`` (so bytes that are not UTF-8 round-trip), any byte except the
control bytes 0x00-0x1f and 0x7f.
"""

from __future__ import annotations

from ._uapi import KEY_MAX, VALUE_MAX

__all__ = ["encode_key", "encode_value", "validate_key", "validate_value"]

_KEY_FIRST = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_KEY_CHARS = _KEY_FIRST + "._/:-"
_KEY_RULE = "keys may contain only A-Z a-z 0-9 . _ / : - and must start with a letter or digit"
_VALUE_RULE = "values may contain any character except control characters 0x00-0x1f and 0x7f"
# Bytes a value may not contain (deleted by translate() to detect them quickly).
_VALUE_BAD = bytes(range(0x20)) + b"\x7f"


def _char_error(what: str, text: str, index: int, rule: str) -> ValueError:
    """Name the character at ``text[index]``, its byte(s) and its byte position."""
    ch = text[index]
    pos = len(text[:index].encode("utf-8", "surrogateescape"))
    try:
        raw = ch.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return ValueError(
            f"invalid character {ch!r} (U+{ord(ch):04X}, a lone surrogate that cannot be "
            f"encoded) at position {pos} in {what} {text!r}; {rule}"
        )
    shown = " ".join(f"0x{b:02x}" for b in raw)
    return ValueError(
        f"invalid character {ch!r} ({shown}) at position {pos} in {what} {text!r}; {rule}"
    )


def encode_key(key: str) -> bytes:
    """Validate ``key`` and return it as the bytes the kernel receives.

    Raises :class:`TypeError` if ``key`` is not a ``str`` and :class:`ValueError`
    (naming the offending character and its 0-based byte position) if the kernel
    would reject it.
    """
    # Fast path: the common, valid key, with str methods only (no regex, no loop).
    if (
        type(key) is str
        and 0 < len(key) <= KEY_MAX
        and key.isascii()
        and not key.strip(_KEY_CHARS)
        and key[0] in _KEY_FIRST
    ):
        return key.encode("ascii")
    if not isinstance(key, str):
        raise TypeError(f"key must be str, not {type(key).__name__}")
    if not key:
        raise ValueError(f"empty key; {_KEY_RULE}")
    for i, ch in enumerate(key):
        if ch not in (_KEY_FIRST if i == 0 else _KEY_CHARS):
            if i == 0 and ch in _KEY_CHARS:
                raise ValueError(
                    f"invalid first character {ch!r} (0x{ord(ch):02x}) at position 0 in key "
                    f"{key!r}; {_KEY_RULE}"
                )
            raise _char_error("key", key, i, _KEY_RULE)
    # Only ASCII is left, so characters are bytes.
    if len(key) > KEY_MAX:
        raise ValueError(f"key {key!r} is {len(key)} bytes long; the maximum is {KEY_MAX} bytes")
    return str(key).encode("ascii")  # a str subclass that is otherwise valid


def encode_value(value: str) -> bytes:
    """Validate ``value`` and return it encoded (UTF-8, ``surrogateescape``).

    Raises :class:`TypeError` if ``value`` is not a ``str`` and :class:`ValueError`
    (naming the offending character and its 0-based byte position) if the kernel
    would reject it.
    """
    if not isinstance(value, str):
        raise TypeError(f"value must be str, not {type(value).__name__}")
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as e:
        raise _char_error("value", value, e.start, _VALUE_RULE) from None
    if len(raw.translate(None, _VALUE_BAD)) != len(raw):
        for i, ch in enumerate(value):
            if ch < " " or ch == "\x7f":
                raise _char_error("value", value, i, _VALUE_RULE)
    if len(raw) > VALUE_MAX:
        raise ValueError(
            f"value is {len(raw)} bytes long (UTF-8); the maximum is {VALUE_MAX} bytes"
        )
    return raw


def validate_key(key: str) -> None:
    """Raise :class:`ValueError` (or :class:`TypeError`) unless the kernel accepts
    ``key``: 1..64 bytes of ``[A-Za-z0-9._/:-]``, starting with a letter or digit.
    The message names the offending character and its 0-based byte position."""
    encode_key(key)


def validate_value(value: str) -> None:
    """Raise :class:`ValueError` (or :class:`TypeError`) unless the kernel accepts
    ``value``: at most 256 bytes as UTF-8 (``surrogateescape``), no byte 0x00-0x1f or
    0x7f.  The message names the offending character and its 0-based byte position."""
    encode_value(value)
