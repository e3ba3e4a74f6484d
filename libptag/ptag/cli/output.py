"""Rendering rows as an aligned table, as raw text, or as JSON, and escaping
what a terminal would misrender.

The conventions are libsmartcols' (``lsns``, ``lsblk``, ``findmnt``):

- **table**: columns separated by one space, numbers right-aligned, the
  whole fitted to the terminal width (``$COLUMNS``, else the terminal, else
  80) by truncating the widest truncatable columns with ``…``; text is
  written through :func:`escape`, and widths are those of the escaped text;
- **raw** (``-r``): one space between columns, nothing aligned, nothing
  truncated; spaces, backslashes and unprintable characters are written as
  ``\\xHH`` (UTF-8 bytes) so every line splits cleanly on spaces;
- **JSON** (``-J``): ``{"<name>": [ {column: value, ...}, ... ]}``, values
  typed (numbers, strings, objects, ``null``), never truncated; with a tree
  each object's children are nested under ``"children"``.  Exact: see
  :func:`dumps`.

The escape notation of every human-readable output (:func:`escape`), reversible:

- ``\\xHH`` (two lowercase hex digits): a C0 control or DEL (``00``-``1f``,
  ``7f``), or a byte ``80``-``ff`` that is not part of valid UTF-8 (the
  library decodes with ``surrogateescape``, so such a byte arrives as U+DC80-U+DCFF);
- ``\\uHHHH`` / ``\\UHHHHHHHH``: a code point that is not printable: C1
  controls (U+0080-U+009F), format characters (bidirectional overrides, isolates
  and marks, zero-width spaces and joiners, the BOM, tag characters), separators
  other than the ASCII space, private-use, unassigned and surrogate code points
  (what :meth:`str.isprintable` rejects), and the Hangul fillers, letters that
  print as nothing;
- ``\\\\``: a backslash, written so only where a single one would read as the
  start of one of these escapes (before another backslash, an escaped character,
  or ``x``/``u``/``U`` and hex digits as above).  Every other backslash stands for
  itself, so ``\\x2d`` in a systemd cgroup path is shown as it is.

Everything else (letters of any script, combining marks, CJK, emoji) is shown
unchanged, and text that needs no escaping costs one ``isascii``/``isprintable``
check.
"""

from __future__ import annotations

import os
import re
import sys

from ptag._types import _Frozen

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, TextIO

#: What a field that could not be read shows in a table.
UNREADABLE = "-"


class Column(_Frozen):
    """One output column.

    ``text`` renders a row's cell for table/raw output and ``json`` its
    typed value for JSON; ``truncate`` is ``None`` (never truncated),
    ``"right"`` (keep the start) or ``"left"`` (keep the end, for paths).
    """

    _FIELDS = ("name", "header", "text", "json", "right", "truncate", "min_width", "help")
    __slots__ = _FIELDS
    name: str
    header: str
    text: Callable[[Any], str]
    json: Callable[[Any], object]
    right: bool
    truncate: str | None
    min_width: int
    help: str

    def __init__(
        self,
        name: str,
        header: str,
        text: Callable[[Any], str],
        json: Callable[[Any], object],
        right: bool = False,
        truncate: str | None = None,
        min_width: int = 8,
        help: str = "",
    ) -> None:
        self._init(name, header, text, json, right, truncate, min_width, help)


class Node:
    """A row, and its children when printed as a tree."""

    __slots__ = ("children", "row")

    def __init__(self, row: Any, children: list[Node] | None = None) -> None:
        self.row = row
        self.children: list[Node] = [] if children is None else children


def terminal_width(stream: TextIO | None = None) -> int:
    """``$COLUMNS`` if set, else the terminal's width, else 80."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    stream = stream or sys.stdout
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        pass
    return 80


def can_encode(text: str, stream: TextIO | None = None) -> bool:
    enc = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(enc)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def char_width(ch: str) -> int:
    """Terminal cells of one character: 0 for a combining mark, 2 for a wide one."""
    if ch.isascii():
        return 1
    ud = _ud or _unicodedata()
    if ud.combining(ch) or ud.category(ch) in ("Mn", "Me"):
        return 0
    return 2 if ud.east_asian_width(ch) in ("W", "F") else 1


def _unicodedata() -> Any:
    """:mod:`unicodedata`, imported on first use: only text that is not ASCII
    needs it, and ``ptag get`` never does."""
    global _ud
    if _ud is None:
        import unicodedata

        _ud = unicodedata
    return _ud


_ud: Any = None


def text_width(text: str) -> int:
    """Display width in terminal cells."""
    if text.isascii():
        return len(text)
    return sum(map(char_width, text))


#: Letters that print as nothing (Hangul fillers): escaped though printable.
_INVISIBLE = "\u115f\u1160\u3164\uffa0"
#: What makes a single backslash read as an escape: it is doubled before these.
_LOOKS_ESCAPED = (
    r"\\|x(?:[01][0-9a-fA-F]|7[fF]|[89a-fA-F][0-9a-fA-F])|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}"
)
#: The regular expressions, compiled on first use (by :func:`_rx`): every command
#: imports this module, few of them escape, truncate or write JSON.
_PATTERNS: dict[str, tuple[str, int]] = {
    "looks_escaped": (_LOOKS_ESCAPED, 0),
    "ambiguous_backslash": (r"\\(?=" + _LOOKS_ESCAPED + ")", 0),
    # one unit of escaped text for a cut: an escape (or a doubled backslash), or a character
    "atom": (r"\\(?:" + _LOOKS_ESCAPED + ")|.", re.S),
    "json_unsafe": ("[\x7f-\U0010ffff]", 0),
}
_COMPILED: dict[str, re.Pattern[str]] = {}


def _rx(name: str) -> re.Pattern[str]:
    """The compiled pattern *name* of :data:`_PATTERNS`."""
    rx = _COMPILED.get(name)
    if rx is None:
        rx = _COMPILED[name] = re.compile(*_PATTERNS[name])
    return rx


def is_plain(text: str) -> bool:
    """True when :func:`escape` returns ``text`` unchanged, decided cheaply: text
    that is printable and holds no backslash (a False may still come back unchanged)."""
    if not text.isprintable() or "\\" in text:
        return False
    return text.isascii() or not any(c in text for c in _INVISIBLE)


def _escape_char(ch: str) -> str:
    cp = ord(ch)
    if cp < 0x80 or 0xDC80 <= cp <= 0xDCFF:  # C0/DEL, or a byte that is not UTF-8
        return f"\\x{cp & 0xFF:02x}"
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def unencodable(exc: UnicodeError) -> tuple[str, int]:
    """A codec error handler (``ptag.escape``, registered by the CLI for stdout and
    stderr): what the stream's encoding cannot encode, written as :func:`escape`
    writes what it escapes, so a non-UTF-8 terminal shows the same notation."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(map(_escape_char, exc.object[exc.start : exc.end])), exc.end


def escape(text: str) -> str:
    """``text`` made safe for a terminal, reversibly (the notation is in the module's
    docstring): unprintable and invisible characters as ``\\xHH``, ``\\uHHHH`` or
    ``\\UHHHHHHHH``, a backslash doubled where it would otherwise read as an escape.
    Returns ``text`` itself when nothing needs escaping (the usual case, decided
    with one ``isascii``/``isprintable`` check)."""
    if is_plain(text):
        return text
    if text.isprintable() and (text.isascii() or not any(c in text for c in _INVISIBLE)):
        return _rx("ambiguous_backslash").sub(r"\\\\", text)  # only backslashes to look at
    out: list[str] = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        if ch == "\\":
            nxt = text[i + 1] if i < last else ""
            double = bool(nxt) and (
                not nxt.isprintable()
                or nxt in _INVISIBLE
                or _rx("looks_escaped").match(text, i + 1)
            )
            out.append("\\\\" if double else "\\")
        elif ch.isprintable() and ch not in _INVISIBLE:
            out.append(ch)
        else:
            out.append(_escape_char(ch))
    return "".join(out)


def truncate(text: str, width: int, *, side: str = "right", ellipsis: str = "…") -> str:
    """Cut ``text`` to ``width`` cells, marking the cut with ``ellipsis``; an escape
    of :func:`escape` is kept whole or cut whole, never split."""
    if text_width(text) <= width:
        return text
    room = width - text_width(ellipsis)
    if room <= 0:
        return ellipsis[:width]
    if "\\" not in text and text.isascii():  # the usual cut: a slice
        return text[:room] + ellipsis if side == "right" else ellipsis + text[-room:]
    chars = _rx("atom").findall(text) if "\\" in text else list(text)
    if side != "right":
        chars.reverse()
    kept: list[str] = []
    used = 0
    for ch in chars:
        w = char_width(ch) if len(ch) == 1 else len(ch)
        if used + w > room:
            break
        kept.append(ch)
        used += w
    if side == "right":
        return "".join(kept) + ellipsis
    return ellipsis + "".join(reversed(kept))


def raw_escape(text: str) -> str:
    """libsmartcols' raw encoding: space, ``\\`` and what :func:`escape` escapes as
    ``\\xHH``, each byte of the UTF-8 (or the byte that is not UTF-8); lossless."""
    out: list[str] = []
    for ch in text:
        if ch == "\\" or ch.isspace() or not ch.isprintable() or ch in _INVISIBLE:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogateescape"))
        else:
            out.append(ch)
    return "".join(out)


def fit_widths(
    natural: list[int], columns: Sequence[Column], limit: int, sep: int = 1
) -> list[int]:
    """Shrink truncatable columns, widest first, until the line fits ``limit``."""
    widths = list(natural)
    floor = [
        min(n, max(c.min_width, text_width(c.header))) if c.truncate else n
        for n, c in zip(natural, columns)
    ]
    excess = sum(widths) + sep * max(0, len(widths) - 1) - limit
    while excess > 0:
        candidates = [i for i, w in enumerate(widths) if w > floor[i]]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: (widths[i], i))
        # shrink the widest down towards the runner-up in one step
        others = [widths[i] for i in candidates if i != widest]
        target = max(floor[widest], max(others, default=0), widths[widest] - excess)
        step = max(1, widths[widest] - target)
        step = min(step, excess, widths[widest] - floor[widest])
        widths[widest] -= step
        excess -= step
    return widths


class TreeArt:
    """The branch glyphs drawn before a tree column (lsblk style)."""

    def __init__(self, unicode: bool) -> None:
        if unicode:
            self.branch, self.last, self.vert, self.blank = "├─", "└─", "│ ", "  "
        else:
            self.branch, self.last, self.vert, self.blank = "|-", "`-", "| ", "  "


def flatten(nodes: Sequence[Node], art: TreeArt | None) -> list[tuple[Any, str]]:
    """Depth-first rows, each with its tree prefix ('' without ``art``)."""
    if art is None and not any(n.children for n in nodes):  # a plain list
        return [(n.row, "") for n in nodes]
    out: list[tuple[Any, str]] = []
    # (node, lead for its children, is it its parent's last child, depth)
    stack: list[tuple[Node, str, bool, int]] = [(n, "", True, 0) for n in reversed(nodes)]
    while stack:
        node, lead, last, depth = stack.pop()
        if art is None or depth == 0:
            prefix, child_lead = "", ""
        else:
            prefix = lead + (art.last if last else art.branch)
            child_lead = lead + (art.blank if last else art.vert)
        out.append((node.row, prefix))
        count = len(node.children)
        for i in range(count - 1, -1, -1):
            stack.append((node.children[i], child_lead, i == count - 1, depth + 1))
    return out


def render_table(
    nodes: Sequence[Node],
    columns: Sequence[Column],
    *,
    headings: bool = True,
    width: int | None = None,
    tree_column: int | None = None,
    wide: bool = False,
    stream: TextIO | None = None,
) -> list[str]:
    """Lines of an aligned table; ``tree_column`` gets the tree glyphs.

    Works a column at a time (listings are thousands of rows): a column whose text
    is all printable ASCII, the usual case, is checked for escaping with one
    :func:`is_plain`, measured with ``len`` and padded with ``str.ljust``/
    ``str.rjust``, in C; any other column is escaped and measured cell by cell.
    """
    stream = stream or sys.stdout
    art = None
    if tree_column is not None:
        art = TreeArt(can_encode("├─└│", stream))
    ellipsis = "…" if can_encode("…", stream) else "~"
    flat = flatten(nodes, art)
    rows = [row for row, _ in flat]
    if tree_column is not None and tree_column < 0:
        tree_column += len(columns)
    # per column: the cells (the heading first), their widths, and whether each
    # cell's width is its length (all ASCII)
    cells: list[list[str]] = []
    cell_widths: list[list[int]] = []
    exact: list[bool] = []
    for i, col in enumerate(columns):
        texts = list(map(col.text, rows))
        if not is_plain("".join(texts)):
            texts = list(map(escape, texts))
        if i == tree_column:
            texts = [prefix + text for (_, prefix), text in zip(flat, texts)]
        if headings:
            texts.insert(0, col.header)
        is_ascii = "".join(texts).isascii()
        cells.append(texts)
        cell_widths.append(list(map(len if is_ascii else text_width, texts)))
        exact.append(is_ascii)
    natural = [max(ws, default=0) for ws in cell_widths]
    if wide:
        widths = natural
    else:
        widths = fit_widths(
            natural, columns, width if width is not None else terminal_width(stream)
        )
    last = len(columns) - 1
    padded: list[list[str]] = []
    for i, col in enumerate(columns):
        texts, ws, w = cells[i], cell_widths[i], widths[i]
        if natural[i] > w:  # cut the cells that are too wide
            side = col.truncate or "right"
            for k, cw in enumerate(ws):
                if cw > w:
                    cut = truncate(texts[k], w, side=side, ellipsis=ellipsis)
                    texts[k] = cut
                    ws[k] = text_width(cut)
                    exact[i] = exact[i] and ws[k] == len(cut)
        if i == last and not col.right:
            padded.append(texts)
        elif exact[i]:
            padded.append([t.rjust(w) for t in texts] if col.right else [t.ljust(w) for t in texts])
        elif col.right:
            padded.append([" " * (w - cw) + t for t, cw in zip(texts, ws)])
        else:
            padded.append([t + " " * (w - cw) for t, cw in zip(texts, ws)])
    if not padded:
        return [""] * (len(rows) + (1 if headings else 0))
    return [" ".join(parts).rstrip() for parts in zip(*padded)]


def render_raw(
    nodes: Sequence[Node], columns: Sequence[Column], *, headings: bool = True
) -> list[str]:
    """Lines of raw output: escaped cells separated by one space."""
    out: list[str] = []
    if headings:
        out.append(" ".join(raw_escape(c.header) for c in columns))
    for row, _prefix in flatten(nodes, None):
        out.append(" ".join(raw_escape(c.text(row)) for c in columns))
    return out


def render_json(
    nodes: Sequence[Node], columns: Sequence[Column], *, name: str, tree: bool = False
) -> str:
    """The JSON document ``{name: [objects]}``; children nested with ``tree``."""

    def obj(node: Node) -> dict[str, object]:
        d: dict[str, object] = {c.name: c.json(node.row) for c in columns}
        if tree and node.children:
            d["children"] = [obj(ch) for ch in node.children]
        return d

    if tree:
        items = [obj(n) for n in nodes]
    else:
        items = [{c.name: c.json(row) for c in columns} for row, _ in flatten(nodes, None)]
    return dumps({name: items})


def _json_char(m: re.Match[str]) -> str:
    ch = m.group()
    if ch.isprintable() and ch not in _INVISIBLE:
        return ch
    cp = ord(ch)
    if cp > 0xFFFF:  # JSON spells a code point beyond the BMP as a surrogate pair
        cp -= 0x10000
        return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"
    return f"\\u{cp:04x}"


def dumps(doc: object) -> str:
    """``doc`` as indented JSON, exact and still safe on a terminal: what
    :func:`escape` would escape is written as a JSON ``\\uHHHH`` escape, which
    decodes to the same string (a byte that is not UTF-8 stays the lone surrogate
    U+DC80-U+DCFF that ``surrogateescape`` made of it); all else is left as it is."""
    import json  # only here: most listings are not JSON

    text = json.dumps(doc, indent=3, ensure_ascii=False)
    if text.isascii() and "\x7f" not in text:
        return text
    return _rx("json_unsafe").sub(_json_char, text)
