"""What today's tools guess from a cgroup path, for ``ptag explain``.

Monitoring agents, ``ps``/``top`` plugins and log shippers attribute a
process to a container by pattern-matching its cgroup path.  This module
reproduces the common patterns so ``ptag explain`` can put the guess next to
the kernel-enforced tags.  It parses cgroup *text* handed to it (the content
of ``/proc/PID/cgroup``, obtained through the library); it reads nothing.

Patterns (``<id>`` is a 64-digit lowercase hex container id):

==================  ===================================================
runtime             cgroup path component
==================  ===================================================
docker              ``docker-<id>.scope`` (systemd driver), ``/docker/<id>``
                    (cgroupfs driver)
podman              ``libpod-<id>.scope``, ``/libpod_parent/libpod-<id>``;
                    ``libpod-conmon-<id>.scope`` is the conmon monitor
containerd          ``cri-containerd-<id>.scope``; ``/kubepods/.../pod<uid>/<id>``
                    (Kubernetes cgroupfs driver, which CRI-O shares)
cri-o               ``crio-<id>.scope``; ``crio-conmon-<id>.scope`` (monitor)
lxc                 ``lxc.payload.<name>`` (LXC 4+, Incus, LXD),
                    ``lxc.monitor.<name>`` (monitor), ``/lxc/<name>`` (LXC 3)
systemd-nspawn      ``machine-<name>.scope`` (also libvirt's ``machine-qemu…``)
==================  ===================================================

A Kubernetes pod uid is taken from ``kubepods-…-pod<uid>.slice`` or
``/kubepods/…/pod<uid>/``.  When a path holds several matches (nested
containers, docker-in-docker), the innermost (rightmost) wins, which is what
most tools do.  The unified (``0::``) hierarchy is tried first, then the v1
hierarchies in file order.
"""

from __future__ import annotations

import re

from ptag._types import _Frozen

_ID = r"([0-9a-f]{64})"
_END = r"(?=/|$)"


class CgroupLine(_Frozen):
    """One line of /proc/PID/cgroup: ``hierarchy-ID:controllers:path``."""

    _FIELDS = ("hierarchy", "controllers", "path")
    __slots__ = _FIELDS
    hierarchy: str
    controllers: str
    path: str

    def __init__(self, hierarchy: str, controllers: str, path: str) -> None:
        self._init(hierarchy, controllers, path)

    @property
    def unified(self) -> bool:
        return self.hierarchy == "0" and self.controllers == ""


class Guess(_Frozen):
    """A container attribution guessed from a cgroup path."""

    _FIELDS = ("runtime", "pattern", "path", "container_id", "name", "pod_uid", "note")
    __slots__ = _FIELDS
    runtime: str
    pattern: str
    path: str
    container_id: str | None
    name: str | None
    pod_uid: str | None
    note: str | None

    def __init__(
        self,
        runtime: str,
        pattern: str,
        path: str,
        container_id: str | None = None,
        name: str | None = None,
        pod_uid: str | None = None,
        note: str | None = None,
    ) -> None:
        self._init(runtime, pattern, path, container_id, name, pod_uid, note)

    @property
    def label(self) -> str:
        """The container id or name, whichever the pattern gives."""
        return self.container_id or self.name or "?"


class _Rule(_Frozen):
    _FIELDS = ("runtime", "pattern", "regex", "what", "note")
    __slots__ = _FIELDS
    runtime: str
    pattern: str
    regex: re.Pattern[str]
    what: str  # "id" or "name"
    note: str | None

    def __init__(
        self, runtime: str, pattern: str, regex: re.Pattern[str], what: str, note: str | None = None
    ) -> None:
        self._init(runtime, pattern, regex, what, note)


_RULES: tuple[_Rule, ...] = (
    _Rule("docker", "docker-<id>.scope", re.compile(rf"(?:^|/)docker-{_ID}\.scope{_END}"), "id"),
    _Rule("docker", "/docker/<id>", re.compile(rf"(?:^|/)docker/{_ID}{_END}"), "id"),
    _Rule(
        "podman",
        "libpod-conmon-<id>.scope",
        re.compile(rf"(?:^|/)libpod-conmon-{_ID}\.scope{_END}"),
        "id",
        "conmon, podman's container monitor, not the container itself",
    ),
    _Rule("podman", "libpod-<id>.scope", re.compile(rf"(?:^|/)libpod-{_ID}\.scope{_END}"), "id"),
    _Rule(
        "podman",
        "/libpod_parent/libpod-<id>",
        re.compile(rf"(?:^|/)libpod_parent/libpod-{_ID}{_END}"),
        "id",
    ),
    _Rule(
        "containerd",
        "cri-containerd-<id>.scope",
        re.compile(rf"(?:^|/)cri-containerd-{_ID}\.scope{_END}"),
        "id",
    ),
    _Rule(
        "containerd",
        "/kubepods/.../pod<uid>/<id>",
        re.compile(rf"(?:^|/)kubepods(?:/[^/]+)?/pod[0-9a-f-]{{36}}/{_ID}{_END}"),
        "id",
        "Kubernetes cgroupfs layout, shared by containerd and CRI-O",
    ),
    _Rule(
        "cri-o",
        "crio-conmon-<id>.scope",
        re.compile(rf"(?:^|/)crio-conmon-{_ID}\.scope{_END}"),
        "id",
        "conmon, CRI-O's container monitor, not the container itself",
    ),
    _Rule("cri-o", "crio-<id>.scope", re.compile(rf"(?:^|/)crio-{_ID}\.scope{_END}"), "id"),
    _Rule(
        "lxc",
        "lxc.monitor.<name>",
        re.compile(r"(?:^|/)lxc\.monitor\.([^/]+)"),
        "name",
        "the LXC monitor process, not the container itself",
    ),
    _Rule("lxc", "lxc.payload.<name>", re.compile(r"(?:^|/)lxc\.payload\.([^/]+)"), "name"),
    _Rule("lxc", "/lxc/<name>", re.compile(r"(?:^|/)lxc/([^/]+)"), "name"),
    _Rule(
        "systemd-nspawn",
        "machine-<name>.scope",
        re.compile(r"(?:^|/)machine-([^/]+)\.scope(?=/|$)"),
        "name",
    ),
)

_POD_SYSTEMD = re.compile(
    r"(?:^|/)kubepods(?:-(?:burstable|besteffort|guaranteed))?-pod([0-9a-f_]{36})\.slice(?=/|$)"
)
_POD_CGROUPFS = re.compile(r"(?:^|/)kubepods(?:/[^/]+)?/pod([0-9a-f-]{36})(?=/|$)")
_SYSTEMD_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def parse_cgroup(text: str | None) -> list[CgroupLine]:
    """The lines of /proc/PID/cgroup text; malformed lines are skipped.

    A bare path (``/system.slice/...``, as some callers pass the unified
    path alone) counts as the unified hierarchy's line.
    """
    out: list[CgroupLine] = []
    if text and text.startswith("/"):
        return [CgroupLine("0", "", text.rstrip("\n"))]
    for line in (text or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[2].startswith("/"):
            continue
        out.append(CgroupLine(parts[0], parts[1], parts[2]))
    return out


def candidate_paths(text: str | None) -> list[str]:
    """Paths worth matching: the unified one first, then v1, deduplicated."""
    lines = parse_cgroup(text)
    ordered = [ln for ln in lines if ln.unified] + [ln for ln in lines if not ln.unified]
    seen: set[str] = set()
    out: list[str] = []
    for ln in ordered:
        if ln.path not in seen:
            seen.add(ln.path)
            out.append(ln.path)
    return out


def primary_path(text: str | None) -> str | None:
    """The path to show for a process: the unified one, unless that is the
    root and some v1 hierarchy says more (hybrid layouts); None if unknown."""
    lines = parse_cgroup(text)
    if not lines:
        return None
    unified = next((ln.path for ln in lines if ln.unified), None)
    if unified is not None and unified != "/":
        return unified
    named = next(
        (ln.path for ln in lines if ln.controllers == "name=systemd" and ln.path != "/"), None
    )
    if named is not None:
        return named
    other = next((ln.path for ln in lines if not ln.unified and ln.path != "/"), None)
    return other or unified or lines[0].path


def systemd_unescape(text: str) -> str:
    """Undo systemd's unit-name escaping (``\\x2d`` → ``-``)."""
    return _SYSTEMD_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def pod_uid(path: str) -> str | None:
    """The Kubernetes pod uid in ``path``, if any."""
    found = list(_POD_SYSTEMD.finditer(path))
    if found:
        return found[-1].group(1).replace("_", "-")
    found = list(_POD_CGROUPFS.finditer(path))
    return found[-1].group(1) if found else None


def guess_path(path: str) -> Guess | None:
    """The innermost container pattern found in one cgroup path."""
    best: tuple[int, _Rule, re.Match[str]] | None = None
    for rule in _RULES:
        for m in rule.regex.finditer(path):
            start = m.start(1)
            if best is None or start > best[0]:
                best = (start, rule, m)
    if best is None:
        return None
    _, rule, m = best
    value = m.group(1)
    note = rule.note
    runtime = rule.runtime
    if rule.what == "name":
        value = systemd_unescape(value)
        if rule.runtime == "systemd-nspawn" and value.startswith("qemu-"):
            runtime = "libvirt"
            note = "a libvirt virtual machine (machine-qemu-…), not a container"
    return Guess(
        runtime=runtime,
        pattern=rule.pattern,
        path=path,
        container_id=value if rule.what == "id" else None,
        name=value if rule.what == "name" else None,
        pod_uid=pod_uid(path),
        note=note,
    )


def guess(text: str | None) -> Guess | None:
    """Guess a container from /proc/PID/cgroup text, as today's tools do."""
    for path in candidate_paths(text):
        g = guess_path(path)
        if g is not None:
            return g
    # a bare pod slice (e.g. the pause process's parent) still tells the pod
    for path in candidate_paths(text):
        uid = pod_uid(path)
        if uid is not None:
            return Guess(
                runtime="kubernetes",
                pattern="kubepods…pod<uid>",
                path=path,
                pod_uid=uid,
                note="a pod's cgroup, no container in it identified",
            )
    return None
