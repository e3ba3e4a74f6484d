"""The configuration of every runtime integration, in one place.

``ptag install`` writes what these functions render, and the documentation's
recipes (``docs/recipes.rst``) include the same renderings, made at build time
by ``docs/_ext/ptag_docs.py`` with :data:`DOC_PATHS`: the two cannot drift.

Each function takes the paths of the programs to name (:class:`Paths`) and
returns the text of one file, or (Docker) merges the runtime entry into the
text of an existing ``daemon.json``.  Nothing here touches the file system.
"""

from __future__ import annotations

import json
import re
import shlex

from ptag._types import _Frozen

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

#: The runtime name ``ptag install`` registers with Docker, Podman and CRI-O.
RUNTIME_NAME = "ptag"

#: The first line (after a ``#!`` line) of every text file ``ptag install``
#: writes: what ``--undo`` recognizes as its own.  ``{target}`` is the target.
MARKER = "# Written by 'ptag install {target}'; 'ptag install --undo {target}' removes it."

#: Where each target's files go, in the system being configured.
DOCKER_DAEMON_JSON = "/etc/docker/daemon.json"
PODMAN_CONF = "/etc/containers/containers.conf.d/ptag.conf"
PODMAN_HOOK = "/etc/containers/oci/hooks.d/ptag.json"
CRIO_CONF = "/etc/crio/crio.conf.d/50-ptag.conf"
CRIO_HOOK = "/usr/share/containers/oci/hooks.d/ptag.json"
LXC_HOOK = "/usr/local/libexec/ptag-lxc-hook"
LXC_CONF = "/usr/share/lxc/config/common.conf.d/ptag.conf"
SYSTEMD_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system",
                "/lib/systemd/system")  # fmt: skip
#: Named to sort after the drop-ins an administrator writes (``override.conf``):
#: systemd applies drop-ins in file-name order, and this one must come last.
SYSTEMD_DROPIN = "zz-ptag.conf"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"


class ConfigError(Exception):
    """An existing configuration cannot take the change; the message says why."""


class Paths(_Frozen):
    """The absolute paths of the programs a configuration names."""

    _FIELDS = ("ptag", "ptag_exec", "ptag_runtime")
    __slots__ = _FIELDS
    ptag: str
    ptag_exec: str
    ptag_runtime: str

    def __init__(self, ptag: str, ptag_exec: str, ptag_runtime: str) -> None:
        self._init(ptag, ptag_exec, ptag_runtime)


#: The paths the documentation shows (where ``pip install`` as root puts them).
DOC_PATHS = Paths("/usr/local/bin/ptag", "/usr/local/bin/ptag-exec", "/usr/local/bin/ptag-runtime")


def marker(target: str) -> str:
    """The marker line of a file written for *target*."""
    return MARKER.format(target=target)


def _toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are a subset of TOML's)."""
    return json.dumps(text, ensure_ascii=False)


# --- OCI hooks.d (Podman, CRI-O) -----------------------------------------------------


def oci_hook(paths: Paths, runtime: str) -> str:
    """An ``oci-hooks(5)`` file running ``ptag oci-hook --runtime RUNTIME`` at
    ``createRuntime`` for every container (Podman and CRI-O read hooks.d)."""
    args = json.dumps(["ptag", "oci-hook", "--runtime", runtime], ensure_ascii=False)
    return (
        "{\n"
        '  "version": "1.0.0",\n'
        '  "hook": {\n'
        f'    "path": {json.dumps(paths.ptag, ensure_ascii=False)},\n'
        f'    "args": {args}\n'
        "  },\n"
        '  "when": {"always": true},\n'
        '  "stages": ["createRuntime"]\n'
        "}\n"
    )


def is_oci_hook(text: str) -> bool:
    """True when *text* is a hooks.d file that runs ``ptag oci-hook`` (one of ours)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    hook = doc.get("hook") if isinstance(doc, dict) else None
    args = hook.get("args") if isinstance(hook, dict) else None
    return isinstance(args, list) and args[:2] == ["ptag", "oci-hook"]


# --- Podman and CRI-O: the runtime ---------------------------------------------------


def podman_conf(paths: Paths, *, default: bool) -> str:
    """A ``containers.conf.d`` drop-in registering ``ptag-runtime`` as the runtime
    ``ptag`` (``podman --runtime ptag``), and with *default* making it Podman's
    runtime."""
    out = [marker("podman")]
    if default:
        out += ["[engine]", f"runtime = {_toml_string(RUNTIME_NAME)}", ""]
    out += ["[engine.runtimes]", f"{RUNTIME_NAME} = [{_toml_string(paths.ptag_runtime)}]"]
    return "\n".join(out) + "\n"


def crio_conf(paths: Paths, *, default: bool) -> str:
    """A ``crio.conf.d`` drop-in registering ``ptag-runtime`` as the runtime handler
    ``ptag``, and with *default* making it CRI-O's default runtime."""
    out = [marker("cri-o")]
    if default:
        out += ["[crio.runtime]", f"default_runtime = {_toml_string(RUNTIME_NAME)}", ""]
    out += [
        f"[crio.runtime.runtimes.{RUNTIME_NAME}]",
        f"runtime_path = {_toml_string(paths.ptag_runtime)}",
        'runtime_type = "oci"',
    ]
    return "\n".join(out) + "\n"


# --- Docker: daemon.json -------------------------------------------------------------


def docker_entry(paths: Paths) -> dict[str, str]:
    """The ``runtimes`` entry for ``ptag`` in ``daemon.json``."""
    return {"path": paths.ptag_runtime}


def docker_fragment(paths: Paths, *, default: bool) -> str:
    """What ``ptag install docker`` adds to ``daemon.json``, as a file of its own."""
    return docker_merge("", paths, default=default)


def _load_object(text: str, where: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{where} is not valid JSON ({exc}); fix it first") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{where} is not a JSON object; fix it first")
    return doc


def docker_merge(text: str, paths: Paths, *, default: bool, where: str = DOCKER_DAEMON_JSON) -> str:
    """*text* (a ``daemon.json``, possibly empty) with the ``ptag`` runtime added.

    The text is edited in place (:mod:`ptag.cli.jsonedit`): every other key, its
    order and the file's layout are kept.  ConfigError when *text* is not a JSON
    object, when its ``runtimes`` is not an object, when it already has a ``ptag``
    runtime with another path, or (with *default*) another ``default-runtime``.
    """
    from . import jsonedit

    doc = _load_object(text, where)
    runtimes = doc.get("runtimes", {})
    if not isinstance(runtimes, dict):
        raise ConfigError(f'{where}: "runtimes" is not a JSON object; fix it first')
    entry = docker_entry(paths)
    have = runtimes.get(RUNTIME_NAME)
    if have is not None and have != entry:
        raise ConfigError(
            f'{where} already has a runtime "{RUNTIME_NAME}": {json.dumps(have)}; '
            "remove it first (ptag install --undo docker)"
        )
    current_default = doc.get("default-runtime")
    if default and current_default not in (None, RUNTIME_NAME):
        raise ConfigError(
            f'{where} already sets "default-runtime": {json.dumps(current_default)}; '
            "remove it first, or install without --default"
        )
    if not text.strip():
        return _docker_fresh(paths, default)
    obj = jsonedit.top(text)
    if have is None:
        member = jsonedit.find(text, obj, "runtimes")
        if member is None:
            text = jsonedit.add_member(text, obj, "runtimes", {RUNTIME_NAME: entry})
        else:
            text = jsonedit.add_member(text, member.value_start, RUNTIME_NAME, entry)
    if default and current_default is None:
        text = jsonedit.add_member(text, obj, "default-runtime", RUNTIME_NAME)
    return text


def _docker_fresh(paths: Paths, default: bool) -> str:
    """The ``daemon.json`` that :func:`docker_merge` writes where there was none."""
    new: dict[str, Any] = {"runtimes": {RUNTIME_NAME: docker_entry(paths)}}
    if default:
        new["default-runtime"] = RUNTIME_NAME
    return json.dumps(new, indent=2) + "\n"


def docker_unmerge(text: str, paths: Paths, *, where: str = DOCKER_DAEMON_JSON) -> str | None:
    """*text* without the ``ptag`` runtime (and a ``default-runtime`` naming it),
    edited in place: what :func:`docker_merge` added comes out, the rest stays as
    it is (a ``runtimes`` object left empty goes too).  None when *text* is the
    file :func:`docker_merge` creates where there was none, untouched since: the
    file can go; an emptied file that was there before (``{}``) stays.
    ConfigError if not JSON, or if its ``ptag`` runtime is not the one that
    ``ptag install`` writes for *paths* (someone else's: left alone)."""
    from . import jsonedit

    doc = _load_object(text, where)
    if text in (_docker_fresh(paths, False), _docker_fresh(paths, True)):
        return None
    runtimes = doc.get("runtimes")
    have = runtimes.get(RUNTIME_NAME) if isinstance(runtimes, dict) else None
    if have is None:
        return text
    if have != docker_entry(paths):
        raise ConfigError(
            f'{where} has a runtime "{RUNTIME_NAME}" that ptag install does not write here: '
            f"{json.dumps(have)}; remove it by hand, or undo with the --ptag-runtime it was "
            "installed with"
        )
    assert isinstance(runtimes, dict)
    obj = jsonedit.top(text)
    if doc.get("default-runtime") == RUNTIME_NAME:
        text = jsonedit.remove_member(text, obj, "default-runtime")
    if set(runtimes) == {RUNTIME_NAME}:
        text = jsonedit.remove_member(text, obj, "runtimes")
    else:
        member = jsonedit.find(text, obj, "runtimes")
        assert member is not None
        text = jsonedit.remove_member(text, member.value_start, RUNTIME_NAME)
    return text


def docker_has_ptag(text: str) -> bool:
    """True when the ``daemon.json`` *text* registers the ``ptag`` runtime."""
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    runtimes = doc.get("runtimes") if isinstance(doc, dict) else None
    return isinstance(runtimes, dict) and RUNTIME_NAME in runtimes


# --- containerd (documentation only: its TOML is edited by hand) ---------------------


def containerd_toml(paths: Paths) -> str:
    """The CRI plugin's runc options pointing the runc shim at ``ptag-runtime``
    (containerd 1.6 and 1.7, configuration version 2)."""
    return (
        'version = 2\n\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n'
        f"  BinaryName = {_toml_string(paths.ptag_runtime)}\n"
    )


# --- LXC -----------------------------------------------------------------------------


def lxc_hook(paths: Paths) -> str:
    """The ``start-host`` hook script that tags an LXC (or Incus) container's init."""
    return f"""\
#!/bin/sh
{marker("lxc")}
# ptag-lxc-hook: tag an LXC (or Incus) container's init before it runs.
# LXC runs start-host hooks in the host's namespaces, after setting the container
# up and just before starting its init, with LXC_PID and LXC_NAME in the
# environment.  A failing hook must stop the container: set -e, and ptag set
# exits non-zero when any tag cannot be set.
set -eu
exec {shlex.quote(paths.ptag)} set -p "$LXC_PID" --exist-ok \\
	container.id="$LXC_NAME" \\
	container.name="$LXC_NAME" \\
	container.runtime=lxc
"""


def lxc_conf(hook: str = LXC_HOOK) -> str:
    """The LXC configuration line that runs *hook* for every container that includes
    the distribution's ``common.conf`` (every template does)."""
    return f"{marker('lxc')}\nlxc.hook.start-host = {hook}\n"


# --- systemd -------------------------------------------------------------------------


def systemd_quote(word: str) -> str:
    """*word* as one systemd command-line word (double quotes when needed).

    Specifiers (``%n``) and ``$VAR`` keep their systemd meaning."""
    if word and not any(c in word for c in " \t\n\"'\\;"):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_dropin(
    unit: str, commands: Sequence[tuple[str, str]], tags: Sequence[tuple[str, str]], paths: Paths
) -> str:
    """A drop-in for *unit* that runs each ``ExecStart=`` command under ``ptag-exec``.

    *commands* are the unit's ``ExecStart=`` values as (prefix, command line):
    the prefix characters (``-``, ``+``, ``!``, ``:``) stay in front.  *tags* are
    (key, value) pairs, set in order.
    """
    opts = " ".join(f"-t {systemd_quote(f'{k}={v}')}" for k, v in tags)
    out = [marker(f"systemd {unit}"), "[Service]", "ExecStart="]
    for prefix, command in commands:
        out.append(f"ExecStart={prefix}{systemd_quote(paths.ptag_exec)} {opts} -- {command}")
    return "\n".join(out) + "\n"


def exec_starts(texts: Sequence[str], where: str) -> list[tuple[str, str]]:
    """The ``ExecStart=`` commands of a unit whose files (the unit, then its
    drop-ins in order) are *texts*, as (prefix, command line) pairs.

    An empty ``ExecStart=`` resets the list, as in systemd.  ConfigError when there
    is none, or when one uses the ``@`` prefix (its own argv[0], which a wrapper
    cannot keep).
    """
    commands: list[tuple[str, str]] = []
    for text in texts:
        section = ""
        lines = re.sub(r"[ \t]*\\\n[ \t]*", " ", text).splitlines()
        for line in lines:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            key, sep, value = line.partition("=")
            if section != "Service" or not sep or key.strip() != "ExecStart":
                continue
            value = value.strip()
            if not value:
                commands = []
                continue
            prefix = ""
            while value and value[0] in "-+!:@":
                prefix += value[0]
                value = value[1:]
            if "@" in prefix:
                raise ConfigError(
                    f"{where}: ExecStart={prefix}{value} uses '@' (its own argv[0]), "
                    "which ptag-exec cannot keep; wrap it by hand"
                )
            commands.append((prefix, value.strip()))
    if not commands:
        raise ConfigError(f"{where} has no ExecStart= in [Service]")
    return commands
