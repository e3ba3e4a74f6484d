"""Add and remove members of a JSON object in the text of a document, keeping
everything else byte for byte: its layout, its key order, its other members.

``ptag install docker`` edits an administrator's ``daemon.json`` with it: a
re-serialized file would be "the same JSON" but a different file, and
``--undo`` could not give back the original.  Removing what :func:`add_member`
added gives back the text it started from.

The text must be valid JSON (the callers check with :func:`json.loads` first);
positions are offsets into it.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from typing import Any

_WS = " \t\r\n"


class Member:
    """One ``"key": value`` of an object: offsets of the key's opening quote and
    of the end of the value."""

    __slots__ = ("end", "key", "start", "value_start")

    def __init__(self, key: str, start: int, value_start: int, end: int) -> None:
        self.key = key
        self.start = start
        self.value_start = value_start
        self.end = end


def _skip_ws(s: str, i: int) -> int:
    while i < len(s) and s[i] in _WS:
        i += 1
    return i


def _end_of_string(s: str, i: int) -> int:
    i += 1  # s[i] is the opening quote
    while s[i] != '"':
        i += 2 if s[i] == "\\" else 1
    return i + 1


def _end_of_value(s: str, i: int) -> int:
    if s[i] == '"':
        return _end_of_string(s, i)
    if s[i] in "{[":
        depth = 0
        while True:
            c = s[i]
            if c == '"':
                i = _end_of_string(s, i)
                continue
            if c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
    while i < len(s) and s[i] not in ",}]" + _WS:  # a number, true, false, null
        i += 1
    return i


def top(s: str) -> int:
    """The offset of the document's top-level value."""
    return _skip_ws(s, 0)


def members(s: str, obj: int) -> tuple[list[Member], int]:
    """The members of the object whose ``{`` is at *obj*, and the offset of its ``}``."""
    out: list[Member] = []
    i = obj + 1
    while True:
        i = _skip_ws(s, i)
        if s[i] == "}":
            return out, i
        if s[i] == ",":
            i += 1
            continue
        key_end = _end_of_string(s, i)
        key = json.loads(s[i:key_end])
        colon = _skip_ws(s, key_end)
        value = _skip_ws(s, colon + 1)
        end = _end_of_value(s, value)
        out.append(Member(key, i, value, end))
        i = end


def find(s: str, obj: int, key: str) -> Member | None:
    """The member *key* of the object at *obj* (the last one, as json.loads does)."""
    found = None
    for m in members(s, obj)[0]:
        if m.key == key:
            found = m
    return found


def _line_indent(s: str, i: int) -> str:
    line = s[s.rfind("\n", 0, i) + 1 : i]
    return line[: len(line) - len(line.lstrip(" \t"))]


def indent_unit(s: str) -> str | None:
    """The document's indentation step (``"  "``, ``"\\t"``...), None when its
    top-level object is on one line."""
    obj = top(s)
    found, _close = members(s, obj)
    if not found:
        return None
    sep = s[obj + 1 : found[0].start]
    if "\n" not in sep:
        return None
    return sep.rsplit("\n", 1)[1][len(_line_indent(s, obj)) :] or None


def _render(key: str, value: Any, indent: str | None, unit: str | None) -> str:
    head = json.dumps(key, ensure_ascii=False) + ": "
    if unit is None or indent is None:
        return head + json.dumps(value, ensure_ascii=False)
    body = json.dumps(value, indent=unit, ensure_ascii=False)
    return head + body.replace("\n", "\n" + indent)


def add_member(s: str, obj: int, key: str, value: Any) -> str:
    """*s* with ``"key": value`` appended to the object at *obj*, laid out like its
    neighbours (the caller makes sure *key* is not there yet)."""
    found, close = members(s, obj)
    unit = indent_unit(s)
    if found:
        sep = s[obj + 1 : found[0].start]
        indent = sep.rsplit("\n", 1)[1] if "\n" in sep else None
        sep = sep or " "  # {"a": 1} takes {"a": 1, "key": value}
        text = _render(key, value, indent, unit if indent is not None else None)
        at = found[-1].end
        return s[:at] + "," + sep + text + s[at:]
    if unit is None:
        return s[: obj + 1] + _render(key, value, None, None) + s[close:]
    outer = _line_indent(s, obj)
    inner = outer + unit
    text = _render(key, value, inner, unit)
    return s[: obj + 1] + "\n" + inner + text + "\n" + outer + s[close:]


def remove_member(s: str, obj: int, key: str) -> str:
    """*s* without the member *key* of the object at *obj*, and the separator that
    :func:`add_member` would have added with it."""
    found, close = members(s, obj)
    idx = max(i for i, m in enumerate(found) if m.key == key)
    if idx > 0:
        return s[: found[idx - 1].end] + s[found[idx].end :]
    if len(found) > 1:
        return s[: found[0].start] + s[found[1].start :]
    return s[: obj + 1] + s[close:]
