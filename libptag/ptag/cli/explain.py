"""``ptag explain PID``: the tags next to what cgroup-path heuristics guess.

The output has three parts: the tags (kernel-enforced; who set each), the
guess labelled ``guess (from cgroup path)``, and a ``verdict:`` line:

- ``agree`` — the guess names the tagged container (container ids compared
  by prefix, so a 12-digit short id matches; or the guessed name equals
  ``container.name``/``container.id``);
- ``DISAGREE`` — both name a container, and not the same one (also when the
  guessed pod uid differs from ``k8s.pod.uid``);
- ``tags only`` — tagged, but the cgroup path matches no known pattern, so
  a heuristic would miss the process;
- ``guess only`` — no container tags; the guess is all there is, unverified;
- ``nothing`` — neither.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

import ptag
from ptag._types import _Frozen

from . import _common, _parser, heuristics, output
from .ps import user_name

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from typing import Any

EPILOG = """\
The guess reproduces what monitoring tools infer from /proc/PID/cgroup for
docker, podman, containerd, CRI-O, LXC/Incus and systemd-nspawn; the tags are
what the runtime set and the kernel enforces.  The verdict is one of: agree,
DISAGREE, tags only, guess only, nothing.

Exit status:
  0  explained (whatever the verdict)
  1  the process does not exist
  2  usage error
"""


class Verdict(_Frozen):
    _FIELDS = ("kind", "text")
    __slots__ = _FIELDS
    kind: str  # agree, disagree, tags-only, guess-only, nothing
    text: str

    def __init__(self, kind: str, text: str) -> None:
        self._init(kind, text)


def short(ident: str) -> str:
    """Docker-style 12-character id for 64-hex ids, else unchanged."""
    if len(ident) == 64 and all(c in "0123456789abcdef" for c in ident):
        return ident[:12]
    return ident


def _value(tags: Mapping[str, Any], key: str) -> str | None:
    tag = tags.get(key)
    return None if tag is None else str(tag.value)


def _same_id(a: str, b: str) -> bool:
    return bool(a) and bool(b) and (a.startswith(b) or b.startswith(a))


class Layer(_Frozen):
    """One container's tags: ``container.*``, or ``PREFIX.container.*`` for a
    runtime nested inside another (which cannot reuse the outer keys)."""

    _FIELDS = ("prefix", "id", "name", "runtime")
    __slots__ = _FIELDS
    prefix: str
    id: str | None
    name: str | None
    runtime: str | None

    def __init__(self, prefix: str, id: str | None, name: str | None, runtime: str | None) -> None:
        self._init(prefix, id, name, runtime)

    def describe(self) -> str:
        words = [self.runtime or "", "container", short(self.id) if self.id else (self.name or "")]
        if self.id and self.name:
            words.append(f"({self.name})")
        return " ".join(w for w in words if w)


def layers(tags: Mapping[str, Any]) -> list[Layer]:
    """Container layers in the order their tags were set: outermost first."""
    suffixes = (_common.CONTAINER_ID, _common.CONTAINER_NAME)
    prefixes: list[str] = []
    for key in tags:
        for suffix in suffixes:
            if key == suffix or key.endswith("." + suffix):
                prefix = key[: len(key) - len(suffix)]
                if prefix not in prefixes:
                    prefixes.append(prefix)
    return [
        Layer(
            p,
            _value(tags, p + _common.CONTAINER_ID),
            _value(tags, p + _common.CONTAINER_NAME),
            _value(tags, p + _common.CONTAINER_RUNTIME),
        )
        for p in prefixes
    ]


def describe_tags(tags: Mapping[str, Any]) -> str | None:
    """The innermost container the tags name (``docker container 4f1e0c8d2b7a
    (web)``), else the pod (``pod UID``), else None."""
    found = layers(tags)
    if found:
        inner = found[-1].describe()
        if len(found) > 1:
            inner += " nested in " + " in ".join(x.describe() for x in reversed(found[:-1]))
        return inner
    puid = _value(tags, _common.POD_UID)
    return f"pod {puid}" if puid else None


def describe_guess(g: heuristics.Guess) -> str:
    if g.container_id or g.name:
        return f"{g.runtime} container {short(g.label)}"
    return f"{g.runtime} pod {g.pod_uid or '?'}"


def verdict(tags: Mapping[str, Any], g: heuristics.Guess | None) -> Verdict:
    """Compare the container tags with a cgroup-path guess."""
    said = describe_tags(tags)
    if g is None:
        if said is None:
            return Verdict(
                "nothing",
                "nothing: no container tags, and the cgroup path matches no known runtime",
            )
        return Verdict(
            "tags-only",
            f"tags only: the tags say {said}; the cgroup path "
            "matches no known runtime, so a heuristic would miss it",
        )
    guessed = describe_guess(g)
    if said is None:
        return Verdict(
            "guess-only",
            f"guess only: no container tags; only the cgroup path suggests {guessed} (unverified)",
        )
    puid = _value(tags, _common.POD_UID)
    problems: list[str] = []
    match: Layer | None = None
    if g.container_id or g.name:
        for layer in reversed(layers(tags)):
            if (g.container_id and layer.id and _same_id(g.container_id, layer.id)) or (
                g.name and g.name in (layer.name, layer.id)
            ):
                match = layer
                break
        if match is None:
            problems.append(f"the tags say {said}, the cgroup path suggests {guessed}")
    if g.pod_uid and puid and g.pod_uid != puid:
        problems.append(f"pod {puid} per the tags, pod {g.pod_uid} per the cgroup path")
    if not (g.container_id or g.name) and not (g.pod_uid and puid):
        problems.append(f"the tags say {said}, the cgroup path suggests {guessed}")
    if problems:
        return Verdict("disagree", "DISAGREE: " + "; ".join(problems))
    what = match.describe() if match is not None else said
    extra = ""
    if match is not None and match.runtime and match.runtime != g.runtime:
        extra = f" (runtime '{match.runtime}' per the tags, {g.runtime} per the path)"
    return Verdict("agree", f"agree: the tags and the cgroup path both say {what}{extra}")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "explain",
        help="compare a process's tags with the cgroup-path guess",
        description="Show a process's tags next to what cgroup-path heuristics guess.",
        epilog=EPILOG,
        error_prog="ptag",
        help_hint="ptag explain --help",
    )
    _parser.add_common_flags(p, "ptag")
    p.add_argument("-J", "--json", action="store_true", help="use JSON output format")
    p.add_argument("pid", type=_parser.parse_pid, metavar="PID", help="the process")
    p.set_defaults(run=run, hint="ptag explain --help")


def run(args: argparse.Namespace) -> int:
    pid: int = args.pid
    if not ptag.supported():
        _common.warn("ptag", f"note: {_common.NO_SUPPORT}; no tags can be shown")
    info = next(iter(ptag.process_iter(pids=[pid])), None)
    if info is None:
        _common.warn("ptag", f"PID {pid}: no such process")
        return 1
    raw_tags = getattr(info, "tags", None)
    tags: Mapping[str, Any] = raw_tags if isinstance(raw_tags, Mapping) else {}
    cgroup = getattr(info, "cgroup", None)
    g = heuristics.guess(cgroup)
    v = verdict(tags, g)
    if args.json:
        doc = {
            "pid": pid,
            "ppid": info.ppid,
            "comm": info.comm,
            "uid": info.uid,
            "cgroup": heuristics.primary_path(cgroup),
            "tags": {t.key: t.value for t in tags.values()},
            "owner": {t.key: t.owner for t in tags.values()},
            "guess": None
            if g is None
            else {
                "runtime": g.runtime,
                "container_id": g.container_id,
                "name": g.name,
                "pod_uid": g.pod_uid,
                "pattern": g.pattern,
                "path": g.path,
                "note": g.note,
            },
            "verdict": v.kind,
            "verdict_text": v.text,
        }
        _common.emit(output.dumps(doc) + "\n")
        return 0
    _common.emit("\n".join(render(info, tags, cgroup, g, v)) + "\n")
    return 0


def render(
    info: Any, tags: Mapping[str, Any], cgroup: str | None, g: heuristics.Guess | None, v: Verdict
) -> list[str]:
    """The lines of the report, every field from the process written through
    :func:`output.escape` (the verdict escaped as a whole, once)."""
    p = output.escape
    comm = info.comm if isinstance(info.comm, str) else output.UNREADABLE
    path = heuristics.primary_path(cgroup)
    lines = [
        f"process {info.pid} ({p(comm)}), user {p(user_name(info.uid))}, parent {info.ppid}",
        f"cgroup  {p(path) if path is not None else output.UNREADABLE}",
        "",
    ]
    if tags:
        lines.append("tags (set by the runtime, enforced by the kernel):")
        keys = {k: p(k) for k in tags}
        width = max(map(output.text_width, keys.values()))
        for k, t in tags.items():
            pad = " " * (width - output.text_width(keys[k]))
            owner = p(user_name(t.owner))
            lines.append(f"  {keys[k]}{pad}  {p(str(t.value))}  (set by {owner})")
    else:
        lines.append("tags: none")
    lines.append("")
    if g is None:
        lines.append("guess (from cgroup path): none (no known runtime pattern)")
    else:
        lines.append("guess (from cgroup path):")
        rows = [("runtime", g.runtime)]
        if g.container_id:
            rows.append(("container id", g.container_id))
        if g.name:
            rows.append(("name", g.name))
        if g.pod_uid:
            rows.append(("pod uid", g.pod_uid))
        rows.append(("pattern", g.pattern))
        if g.note:
            rows.append(("note", g.note))
        for label, value in rows:
            lines.append(f"  {label:<12}  {p(value)}")
    lines.append("")
    lines.append(f"verdict: {p(v.text)}")
    return lines
