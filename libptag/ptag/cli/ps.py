"""``ptag ps``: every visible process with its tags, in the style of lsns/ps.

Exit status (pgrep-like): 0 when at least one process was listed, 1 when none
was (nothing matched the selector, or no listed PID exists), 2 on a usage
error.  On a kernel without ptag support the listing still works, with empty
tags and one note on stderr.
"""

from __future__ import annotations

import argparse
import pwd
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

import ptag
from ptag._proc import proc_has_ptags
from ptag._types import _Frozen

from . import _common, _parser, output
from .output import UNREADABLE, Column, Node

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from typing import Any

    from .heuristics import Guess

DEFAULT_COLUMNS = ("pid", "ppid", "user", "comm", "tags")
#: The columns that need the cgroup path: without them the scan skips that file.
CGROUP_COLUMNS = frozenset(("cgroup", "guess"))
_MAPPINGS = (MappingProxyType, dict)

# ---------------------------------------------------------------------------
# selectors: -l key=value,key2!=v,key3,!key4


class Requirement(_Frozen):
    """One selector term.  ``op`` is ``=``, ``!=``, ``exists`` or ``!exists``."""

    _FIELDS = ("key", "op", "value")
    __slots__ = _FIELDS
    key: str
    op: str
    value: str | None

    def __init__(self, key: str, op: str, value: str | None = None) -> None:
        self._init(key, op, value)

    def matches(self, tags: Mapping[str, object]) -> bool:
        if self.op == "exists":
            return self.key in tags
        if self.op == "!exists":
            return self.key not in tags
        tag = tags.get(self.key)
        value = getattr(tag, "value", tag) if tag is not None else None
        if self.op == "=":
            return tag is not None and value == self.value
        # Kubernetes semantics: != also matches processes without the key
        return tag is None or value != self.value

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!exists":
            return f"!{self.key}"
        return f"{self.key}{self.op}{self.value}"


def _split_terms(text: str) -> list[str]:
    """Split at commas; ``\\,`` is a literal comma, ``\\\\`` a backslash."""
    terms: list[str] = []
    cur: list[str] = []
    it = iter(text)
    for ch in it:
        if ch == "\\":
            nxt = next(it, None)
            if nxt is None:
                raise ValueError("trailing backslash")
            if nxt not in ",\\":
                cur.append(ch)
            cur.append(nxt)
        elif ch == ",":
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    terms.append("".join(cur))
    return terms


def parse_selector(text: str) -> list[Requirement]:
    """Parse a Kubernetes-style selector; ValueError names the bad term.

    ``key=value`` and ``key==value`` (has the tag with that value),
    ``key!=value`` (lacks the tag or has another value), ``key`` (has the
    tag), ``!key`` (lacks it); terms are ANDed and separated by commas.
    Blanks around a key are ignored; a value runs verbatim to the next comma.
    """
    reqs: list[Requirement] = []
    for raw in _split_terms(text):
        # spaces around a key are dropped; a value is taken verbatim
        term = raw.lstrip()
        if not term.strip():
            raise ValueError(f"empty term in selector '{text}'")
        eq = term.find("=")  # keys hold no '=' or '!': the first '=' is the operator
        if eq > 0 and term[eq - 1] == "!":
            key, value, op = term[: eq - 1], term[eq + 1 :], "!="
        elif eq >= 0 and term[eq + 1 : eq + 2] == "=":
            key, value, op = term[:eq], term[eq + 2 :], "="
        elif eq >= 0:
            key, value, op = term[:eq], term[eq + 1 :], "="
        elif term.startswith("!"):
            key, value, op = term[1:].strip(), "", "!exists"
        else:
            key, value, op = term.strip(), "", "exists"
        key = key.strip()
        try:
            _common.check_tag(key, value if op in ("=", "!=") else None)
        except ValueError as exc:
            raise ValueError(f"invalid selector term '{term}': {exc}") from None
        reqs.append(Requirement(key, op, value if op in ("=", "!=") else None))
    return reqs


# ---------------------------------------------------------------------------
# columns


_users: dict[int, str] = {}


def user_name(uid: object) -> str:
    """The user name for ``uid``, or the number when it has none."""
    if type(uid) is int and uid in _users:  # the common case, once per row
        return _users[uid]
    if not isinstance(uid, int) or isinstance(uid, bool):
        return UNREADABLE
    name = _users.get(uid)
    if name is None:
        try:
            name = pwd.getpwuid(uid).pw_name
        except (KeyError, OSError, OverflowError):
            name = str(uid)
        _users[uid] = name
    return name


def _num(v: object) -> str:
    if type(v) is int:  # the common case first: this runs once per cell
        return str(v)
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else UNREADABLE


def _json_num(v: object) -> object:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _tags(info: Any) -> Mapping[str, Any] | None:
    tags = getattr(info, "tags", None)
    # the concrete types first: an ABC check is slow, and this runs per cell
    if type(tags) in _MAPPINGS or isinstance(tags, Mapping):
        return tags
    return None


def tags_text(info: Any) -> str:
    tags = _tags(info)
    if tags is None:
        return UNREADABLE
    if not tags:  # most processes
        return ""
    return ",".join(f"{t.key}={t.value}" for t in tags.values())


def owner_text(info: Any) -> str:
    tags = _tags(info)
    if tags is None:
        return UNREADABLE
    seen: list[str] = []
    for t in tags.values():
        name = user_name(t.owner)
        if name not in seen:
            seen.append(name)
    return ",".join(seen)


def tags_json(info: Any) -> object:
    tags = _tags(info)
    return None if tags is None else {t.key: t.value for t in tags.values()}


def owner_json(info: Any) -> object:
    tags = _tags(info)
    return None if tags is None else {t.key: t.owner for t in tags.values()}


# ptag.cli.heuristics compiles a dozen regular expressions when imported, and only
# the cgroup and guess columns need it: these two stubs import it on first use and
# rebind themselves to its functions, memoized (a listing holds many processes per
# cgroup, and the answers are immutable).
def _guess(text: str | None) -> Guess | None:
    _load_heuristics()
    return _guess(text)


def _primary_path(text: str | None) -> str | None:
    _load_heuristics()
    return _primary_path(text)


def _load_heuristics() -> None:
    global _guess, _primary_path
    from functools import lru_cache  # loaded already: re and argparse use it

    from . import heuristics

    _guess = lru_cache(maxsize=None)(heuristics.guess)
    _primary_path = lru_cache(maxsize=None)(heuristics.primary_path)


def guess_text(info: Any) -> str:
    g = _guess(getattr(info, "cgroup", None))
    if g is None:
        return ""
    label = g.container_id[:12] if g.container_id else (g.name or g.pod_uid or "?")
    return f"{g.runtime} {label}"


def guess_json(info: Any) -> object:
    g = _guess(getattr(info, "cgroup", None))
    if g is None:
        return None
    return {"runtime": g.runtime, "id": g.container_id, "name": g.name, "pod_uid": g.pod_uid}


def cgroup_text(info: Any) -> str:
    path = _primary_path(getattr(info, "cgroup", None))
    return UNREADABLE if path is None else path


def _str_or_dash(v: object) -> str:
    return v if isinstance(v, str) else UNREADABLE


def _tag_column(key: str) -> Column:
    def text(info: Any) -> str:
        tags = _tags(info)
        if tags is None:
            return UNREADABLE
        tag = tags.get(key)
        return "" if tag is None else str(tag.value)

    def js(info: Any) -> object:
        tags = _tags(info)
        tag = None if tags is None else tags.get(key)
        return None if tag is None else tag.value

    return Column(name=f"tag:{key}", header=key, text=text, json=js, truncate="right", min_width=8)


COLUMNS: dict[str, Column] = {
    c.name: c
    for c in (
        Column(
            "pid",
            "PID",
            lambda i: _num(i.pid),
            lambda i: _json_num(i.pid),
            right=True,
            help="process ID",
        ),
        Column(
            "ppid",
            "PPID",
            lambda i: _num(i.ppid),
            lambda i: _json_num(i.ppid),
            right=True,
            help="parent process ID",
        ),
        Column(
            "user",
            "USER",
            lambda i: user_name(i.uid),
            lambda i: None if _json_num(i.uid) is None else user_name(i.uid),
            help="owner of the process (effective user name)",
        ),
        Column(
            "uid",
            "UID",
            lambda i: _num(i.uid),
            lambda i: _json_num(i.uid),
            right=True,
            help="owner of the process (effective uid)",
        ),
        Column(
            "comm",
            "COMM",
            lambda i: _str_or_dash(i.comm),
            lambda i: i.comm if isinstance(i.comm, str) else None,
            truncate="right",
            min_width=8,
            help="command name",
        ),
        Column(
            "tags",
            "TAGS",
            tags_text,
            tags_json,
            truncate="right",
            min_width=12,
            help="all tags, KEY=VALUE,... oldest first",
        ),
        Column(
            "owner",
            "OWNER",
            owner_text,
            owner_json,
            truncate="right",
            min_width=5,
            help="who set the tags (user names; in JSON a uid per key)",
        ),
        Column(
            "cgroup",
            "CGROUP",
            cgroup_text,
            lambda i: _primary_path(getattr(i, "cgroup", None)),
            truncate="left",
            min_width=12,
            help="cgroup path (unified hierarchy first)",
        ),
        Column(
            "guess",
            "GUESS",
            guess_text,
            guess_json,
            truncate="right",
            min_width=10,
            help="the container a cgroup-path heuristic would guess (see explain)",
        ),
    )
}


def parse_columns(specs: Sequence[str] | None) -> list[Column]:
    """``-o`` lists: comma-separated names; a list starting with ``+``
    extends the default (or what earlier ``-o`` gave)."""
    names: list[str] = list(DEFAULT_COLUMNS)
    first = True
    for spec in specs or ():
        extend = spec.startswith("+")
        body = spec[1:] if extend else spec
        items = [s.strip() for s in body.split(",")]
        if any(not s for s in items):
            raise ValueError(f"empty column name in '{spec}'")
        if not extend and first:
            names = []
        elif not extend:
            pass  # later -o lists append, as with ps
        names.extend(items)
        first = False
    cols: list[Column] = []
    for name in names:
        if name[:4].lower() == "tag:":
            key = name[4:]
            try:
                _common.check_tag(key, None)
            except ValueError as exc:
                raise ValueError(f"invalid column '{name}': {exc}") from None
            cols.append(_tag_column(key))
            continue
        col = COLUMNS.get(name.lower())
        if col is None:
            raise ValueError(f"unknown column: '{name}'")
        cols.append(col)
    return cols


def parse_pids(specs: Iterable[str]) -> list[int]:
    """``-p 1,2 -p 3`` (commas or blanks) → [1, 2, 3]."""
    pids: list[int] = []
    for spec in specs:
        parts = spec.replace(",", " ").split()
        if not parts:
            raise ValueError(f"invalid PID list: '{spec}'")
        for part in parts:
            try:
                pid = _parser.parse_pid(part)
            except argparse.ArgumentTypeError as exc:
                raise ValueError(str(exc)) from None
            if pid not in pids:
                pids.append(pid)
    return pids


def build_forest(infos: Sequence[Any]) -> list[Node]:
    """Parent/child nodes; a process whose parent is not listed is a root.

    A scan is not atomic, so PID reuse could in theory produce a cycle; any
    process left unreachable is made a root, which breaks it.
    """
    nodes: dict[object, Node] = {}
    for info in infos:
        nodes.setdefault(info.pid, Node(info))
    roots: list[Node] = []
    for node in nodes.values():
        parent = nodes.get(node.row.ppid)
        if parent is None or parent is node:
            roots.append(node)
        else:
            parent.children.append(node)
    seen = {id(n) for n in _walk(roots)}
    for node in nodes.values():
        if id(node) not in seen:
            nodes[node.row.ppid].children.remove(node)
            roots.append(node)
            seen.update(id(n) for n in _walk([node]))
    return roots


def _walk(roots: Sequence[Node]) -> Iterable[Node]:
    stack = list(roots)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


# ---------------------------------------------------------------------------
# the command

EPILOG = (
    "Columns (-o, default: "
    + ",".join(DEFAULT_COLUMNS)
    + "; -o +COLS extends the default):\n"
    + "".join(f"  {c.name:<9} {c.help}\n" for c in COLUMNS.values())
    + "  tag:KEY   the value of tag KEY (empty when the process lacks it)\n"
    + """
Selector (-l, Kubernetes style; terms separated by commas are ANDed, and
several -l options are ANDed too):
  KEY=VALUE, KEY==VALUE   has tag KEY with that value
  KEY!=VALUE              lacks tag KEY, or has another value
  KEY                     has tag KEY
  !KEY                    lacks tag KEY
  (write a comma inside a value as \\, and a backslash as \\\\)

Fields that cannot be read show '-'; processes that exit during the scan
are left out.  Tables fit the terminal ($COLUMNS, else 80) and cut long
values with '…'; -w, -r and -J never cut.  What a terminal would misrender
is escaped (\\xHH, \\uHHHH, see ptag(1)); -r and -J are exact.

Exit status:
  0  at least one process was listed
  1  no process was listed (nothing matched)
  2  usage error
"""
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "ps",
        help="list processes with their tags",
        description="List every visible process with its tags.",
        epilog=EPILOG,
        error_prog="ptag",
        help_hint="ptag ps --help",
    )
    _parser.add_common_flags(p, "ptag")
    p.add_argument(
        "-o",
        "--output",
        metavar="COLS",
        action="append",
        help="columns to show (comma-separated; +COLS to extend the default)",
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("-J", "--json", action="store_true", help="use JSON output format")
    fmt.add_argument("-r", "--raw", action="store_true", help="use raw output format")
    p.add_argument("-n", "--noheadings", action="store_true", help="don't print headings")
    p.add_argument("-w", "--wide", action="store_true", help="never truncate table cells")
    p.add_argument("--tree", action="store_true", help="show the process tree (like ps --forest)")
    p.add_argument(
        "-p",
        "--pid",
        metavar="PID[,PID...]",
        action="append",
        dest="pids",
        help="only these processes",
    )
    p.add_argument(
        "-l",
        "--selector",
        metavar="SELECTOR",
        action="append",
        help="only processes whose tags match (see below)",
    )
    p.set_defaults(run=run, hint="ptag ps --help")


def run(args: argparse.Namespace) -> int:
    try:
        columns = parse_columns(args.output)
        pids = parse_pids(args.pids) if args.pids else None
        reqs: list[Requirement] = []
        for sel in args.selector or ():
            reqs.extend(parse_selector(sel))
    except ValueError as exc:
        raise _common.UsageError(str(exc)) from None

    if not _proc_shows_tags():
        _common.warn("ptag", f"note: {_common.NO_SUPPORT}; no process shows tags")

    cgroup = any(c.name in CGROUP_COLUMNS for c in columns)
    infos = list(scan(pids, reqs, cgroup=cgroup))
    nodes = build_forest(infos) if args.tree else [Node(i) for i in infos]
    if args.json:
        _common.emit(output.render_json(nodes, columns, name="processes", tree=args.tree) + "\n")
    else:
        if args.raw:
            lines = output.render_raw(nodes, columns, headings=not args.noheadings)
        else:
            tree_col = None
            if args.tree:
                names = [c.name for c in columns]
                tree_col = names.index("comm") if "comm" in names else len(columns) - 1
            lines = output.render_table(
                nodes, columns, headings=not args.noheadings, tree_column=tree_col, wide=args.wide
            )
        _common.emit("".join(line + "\n" for line in lines))
    return 0 if infos else 1


def _proc_shows_tags() -> bool:
    """Whether /proc shows tags, which is where the listing reads them.

    Asked of /proc as the scan asks it (:func:`ptag._proc.proc_has_ptags`), rather
    than of :func:`ptag.supported`, whose probe is a prctl and loads ctypes, which
    a listing has no other use for.  Only when /proc shows neither this process
    nor an init is the kernel asked.
    """
    has = proc_has_ptags()
    return ptag.supported() if has is None else has


def scan(
    pids: list[int] | None, reqs: Sequence[Requirement], *, cgroup: bool = True
) -> Iterable[Any]:
    """Processes from the library, sorted by PID, filtered by the selector;
    ``cgroup=False`` when no column shows the cgroup path."""
    found = list(ptag.process_iter(pids=pids, cgroup=cgroup))
    if reqs:
        found = [info for info in found if _selected(info, reqs)]
    found.sort(key=_pid_key)
    return found


def _selected(info: Any, reqs: Sequence[Requirement]) -> bool:
    tags = _tags(info)
    return all(r.matches(tags if tags is not None else {}) for r in reqs)


def _pid_key(info: Any) -> int:
    pid = info.pid
    return pid if isinstance(pid, int) else -1
