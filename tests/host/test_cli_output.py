"""Table, raw and JSON rendering (ptag.cli.output)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from ptag.cli import output
from ptag.cli.output import Column, Node


def col(
    name: str, *, right: bool = False, truncate: str | None = None, min_width: int = 4
) -> Column:
    def text(r: Any) -> str:
        return str(r[name])

    def js(r: Any) -> object:
        return r[name]

    return Column(name, name.upper(), text, js, right=right, truncate=truncate, min_width=min_width)


class Tty(io.StringIO):
    def __init__(self, encoding: str = "utf-8") -> None:
        super().__init__()
        self._enc = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._enc


COLS = [col("pid", right=True), col("comm"), col("tags", truncate="right", min_width=6)]
ROWS: list[dict[str, Any]] = [
    {"pid": 1, "comm": "init", "tags": ""},
    {"pid": 4242, "comm": "sleep", "tags": "container.id=" + "a" * 64 + ",container.name=web"},
]


def test_table_aligned_and_fits() -> None:
    lines = output.render_table([Node(r) for r in ROWS], COLS, width=40, stream=Tty())
    assert lines[0] == " PID COMM  TAGS"
    assert lines[1] == "   1 init"
    assert len(lines[2]) == 40
    assert lines[2].startswith("4242 sleep container.id=aaaa")
    assert lines[2].endswith("…")


def test_table_wide_never_truncates() -> None:
    lines = output.render_table([Node(r) for r in ROWS], COLS, width=40, wide=True, stream=Tty())
    assert lines[2].endswith("container.name=web")


def test_table_no_headings() -> None:
    lines = output.render_table([Node(r) for r in ROWS], COLS, headings=False, stream=Tty())
    assert len(lines) == 2
    assert lines[0].split() == ["1", "init"]


def test_ascii_fallback_ellipsis() -> None:
    lines = output.render_table([Node(r) for r in ROWS], COLS, width=30, stream=Tty("ascii"))
    assert lines[2].endswith("~")
    assert len(lines[2]) == 30


def test_truncate() -> None:
    assert output.truncate("abcdef", 10) == "abcdef"
    assert output.truncate("abcdef", 4) == "abc…"
    assert output.truncate("/a/b/c/docker-x.scope", 10, side="left") == "…r-x.scope"
    assert output.text_width(output.truncate("\uff21\uff22\uff23\uff24", 5)) <= 5
    assert output.truncate("abc", 1) == "…"


def test_text_width() -> None:
    assert output.text_width("abc") == 3
    assert output.text_width("é") == 1
    assert output.text_width("漢字") == 4
    assert output.text_width("e\u0301") == 1


def test_escape_controls() -> None:
    assert output.escape("a\nb\x1b[31m") == "a\\x0ab\\x1b[31m"


def test_raw_escape() -> None:
    assert output.raw_escape("a b\\c") == "a\\x20b\\x5cc"
    assert output.raw_escape("é") == "é"
    assert output.raw_escape("\t") == "\\x09"
    assert output.raw_escape("") == ""


def test_raw_never_truncates() -> None:
    lines = output.render_raw([Node(r) for r in ROWS], COLS)
    assert lines[0] == "PID COMM TAGS"
    assert lines[1] == "1 init "
    assert lines[2] == f"4242 sleep container.id={'a' * 64},container.name=web"


def test_json_typed_and_untruncated() -> None:
    doc = json.loads(output.render_json([Node(r) for r in ROWS], COLS, name="processes"))
    assert doc == {"processes": ROWS}


def test_tree_table_and_json() -> None:
    root = Node({"pid": 1, "comm": "init", "tags": ""})
    a = Node({"pid": 2, "comm": "a", "tags": ""})
    b = Node({"pid": 3, "comm": "b", "tags": ""})
    c = Node({"pid": 4, "comm": "c", "tags": ""})
    root.children = [a, c]
    a.children = [b]
    lines = output.render_table([root], COLS, tree_column=1, stream=Tty())
    assert [ln[4:] for ln in lines[1:]] == [
        "init",
        "├─a",
        "│ └─b",
        "└─c",
    ]
    ascii_lines = output.render_table([root], COLS, tree_column=1, stream=Tty("ascii"))
    assert ascii_lines[3].endswith("| `-b")
    doc = json.loads(output.render_json([root], COLS, name="p", tree=True))
    assert doc["p"][0]["children"][0]["children"][0]["pid"] == 3
    assert "children" not in doc["p"][0]["children"][1]


def test_fit_widths_prefers_widest() -> None:
    cols = [col("a", truncate="right"), col("b", truncate="right")]
    assert output.fit_widths([30, 10], cols, 31) == [20, 10]
    assert output.fit_widths([30, 30], cols, 41) == [20, 20] or output.fit_widths(
        [30, 30], cols, 41
    ) == [21, 19]
    # nothing truncatable: left as is
    assert output.fit_widths([30, 30], [col("x"), col("y")], 20) == [30, 30]


def test_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "123")
    assert output.terminal_width(Tty()) == 123
    monkeypatch.setenv("COLUMNS", "junk")
    assert output.terminal_width(Tty()) == 80
    monkeypatch.delenv("COLUMNS")
    assert output.terminal_width(Tty()) == 80


MIXED_COLS = [
    col("pid", right=True),
    col("comm"),
    col("path", truncate="left", min_width=6),
    col("tags", truncate="right", min_width=6),
    col("uid", right=True),
]
MIXED: list[dict[str, Any]] = [
    {"pid": 1, "comm": "init", "path": "/", "tags": "", "uid": 0},
    {
        "pid": 22,
        "comm": "café\x1b",
        "path": "/system.slice/docker-" + "b" * 20 + ".scope",
        "tags": "k=漢字漢字漢字漢字,n=v",
        "uid": 1000,
    },
    {
        "pid": 333,
        "comm": "漢字",
        "path": "/user.slice/äöü",
        "tags": "container.id=" + "a" * 30,
        "uid": 65534,
    },
]


@pytest.mark.parametrize(
    ("encoding", "cut"),
    [("utf-8", "…"), ("ascii", "~")],
)
def test_table_mixed_ascii_wide_and_cut_cells(encoding: str, cut: str) -> None:
    """Columns that are all ASCII (measured and padded in bulk) next to columns with
    wide, accented and escaped characters and cut cells (measured cell by cell, the
    escaped text's width)."""
    nodes = [Node(r) for r in MIXED]
    assert output.render_table(nodes, MIXED_COLS, width=60, stream=Tty(encoding)) == [
        "PID COMM     PATH                 TAGS                   UID",
        "  1 init     /                                             0",
        f" 22 café\\x1b {cut}bbbbbbbbbbbbb.scope k=漢字漢字漢字漢字,{cut}  1000",
        f"333 漢字     /user.slice/äöü      container.id=aaaaaa{cut} 65534",
    ]


def test_tree_table_mixed() -> None:
    root = Node(MIXED[0], [Node(MIXED[1], [Node(MIXED[2])])])
    assert output.render_table([root], MIXED_COLS, width=50, tree_column=1, stream=Tty()) == [
        "PID COMM       PATH           TAGS             UID",
        "  1 init       /                                 0",
        " 22 └─café\\x1b …bbbbbbb.scope k=漢字漢字漢…   1000",
        "333   └─漢字   …ser.slice/äöü container.id=… 65534",
    ]
    # a negative tree column counts from the end, as an index does
    last = output.render_table([root], MIXED_COLS[:2], tree_column=-1, stream=Tty())
    assert last == output.render_table([root], MIXED_COLS[:2], tree_column=1, stream=Tty())
