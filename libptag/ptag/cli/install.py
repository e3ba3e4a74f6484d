"""``ptag install``: configure a container engine (or LXC, or a systemd unit) to tag.

``ptag install [--root DIR] [--dry-run] [--undo] [--default] TARGET [UNIT]`` writes
the configuration that :mod:`ptag.cli.integrations` renders (the same text the
recipes in the documentation show):

* ``docker``: ``/etc/docker/daemon.json``, the runtime ``ptag`` (merged in);
* ``podman``: ``/etc/containers/containers.conf.d/ptag.conf``, the runtime;
* ``podman-hook``: ``/etc/containers/oci/hooks.d/ptag.json``, the OCI hook;
* ``cri-o``: ``/etc/crio/crio.conf.d/50-ptag.conf``, the runtime handler;
* ``cri-o-hook``: ``/usr/share/containers/oci/hooks.d/ptag.json``, the OCI hook;
* ``lxc``: ``/usr/local/libexec/ptag-lxc-hook`` and the LXC configuration line;
* ``systemd UNIT``: ``/etc/systemd/system/UNIT.d/zz-ptag.conf``, ptag-exec in front.

Every change is computed and checked before anything is written; each file is
replaced atomically (a temporary file renamed over it), and when writing a
later file fails, the earlier ones are put back: nothing is ever half applied.
A file it did not write is never overwritten or removed; ``daemon.json`` is
merged, every other key kept.  ``--undo`` removes exactly what it added.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys

from . import _common, _parser, integrations

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

TARGETS = ("docker", "podman", "podman-hook", "cri-o", "cri-o-hook", "lxc", "systemd")

#: The tag a systemd unit gets when no -t is given.
SYSTEMD_DEFAULT_TAGS = (("service.name", "%n"),)

EPILOG = """\
Targets:
  docker       /etc/docker/daemon.json: the runtime "ptag" (ptag-runtime),
               merged into the file; --default also makes it the default
  podman       /etc/containers/containers.conf.d/ptag.conf: the runtime
               "ptag" (podman --runtime ptag); --default: every container
  podman-hook  /etc/containers/oci/hooks.d/ptag.json: ptag oci-hook for
               every Podman container (tags 'run', not 'exec')
  cri-o        /etc/crio/crio.conf.d/50-ptag.conf: the runtime handler
               "ptag"; --default makes it CRI-O's default_runtime
  cri-o-hook   /usr/share/containers/oci/hooks.d/ptag.json: ptag oci-hook
               for every CRI-O container (tags 'run', not 'exec')
  lxc          /usr/local/libexec/ptag-lxc-hook and the start-host hook in
               /usr/share/lxc/config/common.conf.d/ptag.conf
  systemd UNIT /etc/systemd/system/UNIT.d/zz-ptag.conf: every ExecStart= of
               UNIT under ptag-exec -t KEY=VALUE... (default: -t
               service.name=%n)

Nothing is half applied: every change is checked first, each file is
replaced atomically, and a failure puts back what was written.  A file that
ptag install did not write is never replaced or removed; daemon.json keeps
every other key.  --undo removes exactly what the same TARGET added.

Exit status:
  0  installed or removed (or nothing to do); --dry-run: the diff is shown
  1  refused or failed, nothing changed: a file is not valid JSON or was not
     written by ptag install, a different "ptag" runtime or default runtime
     is set, a program or the unit is not found, a file cannot be written
  2  usage error
"""

#: target -> what to do next, once installed (``{undo}`` is the undo command).
NEXT = {
    "docker": "reload dockerd (systemctl reload docker), then: docker run --runtime ptag ...",
    "podman": "new containers: podman --runtime ptag run ...",
    "podman-hook": "every Podman container created from now on is tagged (not exec'd ones)",
    "cri-o": "restart CRI-O (systemctl restart crio); Kubernetes: a RuntimeClass with "
    "handler: ptag",
    "cri-o-hook": "every CRI-O container created from now on is tagged (not exec'd ones)",
    "lxc": "every LXC container that includes common.conf is tagged from its next start",
    "systemd": "systemctl daemon-reload && systemctl restart {unit}",
}
NEXT_DEFAULT = {
    "docker": "reload dockerd (systemctl reload docker): every container runs through ptag-runtime",
    "podman": "every new Podman container runs through ptag-runtime",
    "cri-o": "restart CRI-O (systemctl restart crio): every container runs through ptag-runtime",
}


class InstallError(Exception):
    """A reason to change nothing and exit 1, as one line."""


class Change:
    """One file to create, replace or remove: *new* None removes it."""

    def __init__(self, shown: str, real: str, old: bytes | None, new: bytes | None, mode: int):
        self.shown = shown  # the path in the configured system
        self.real = real  # the path here (under --root)
        self.old = old
        self.new = new
        self.mode = mode

    @property
    def verb(self) -> str:
        if self.new is None:
            return "removed"
        return "created" if self.old is None else "updated"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "install",
        help="configure Docker, Podman, CRI-O, LXC or a systemd unit to tag",
        description="Write the configuration that makes a container engine, LXC or a\n"
        "systemd unit tag its processes, or remove it again with --undo.",
        epilog=EPILOG,
        error_prog="ptag",
        help_hint="ptag install --help",
    )
    _parser.add_common_flags(p, "ptag")
    p.add_argument("target", metavar="TARGET", choices=TARGETS, help=", ".join(TARGETS))
    p.add_argument("unit", metavar="UNIT", nargs="?", help="systemd: the service to wrap")
    p.add_argument("--undo", action="store_true", help="remove what TARGET installs")
    p.add_argument(
        "-n", "--dry-run", action="store_true", help="show the changes as a diff, write nothing"
    )
    p.add_argument(
        "--root", metavar="DIR", help="configure the system whose root is DIR (default: /)"
    )
    p.add_argument(
        "--default",
        action="store_true",
        help="docker, podman, cri-o: make ptag the default runtime",
    )
    p.add_argument(
        "-t",
        "--tag",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="systemd: a tag for ptag-exec to set (repeatable)",
    )
    for name in ("ptag", "ptag-exec", "ptag-runtime"):
        p.add_argument(
            f"--{name}",
            metavar="PATH",
            help=f"the {name} the configuration runs (default: the one beside this ptag)",
        )
    p.set_defaults(run=run, hint="ptag install --help")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except InstallError as exc:
        _common.warn("ptag", f"install: {exc}")
        return 1


# --- finding things ------------------------------------------------------------------


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_program(name: str) -> str | None:
    """The absolute path of *name*: beside the running ``ptag``, beside this
    interpreter (a venv's ``bin``), then on ``PATH``; None if none is executable."""
    dirs = []
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "ptag":
        dirs.append(os.path.dirname(os.path.abspath(argv0)))
    dirs.append(os.path.dirname(os.path.abspath(sys.executable)))
    dirs += [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    for d in dirs:
        cand = os.path.join(d, name)
        if _executable(cand):
            return os.path.abspath(cand)
    return None


def _program(args: argparse.Namespace, name: str, needed: bool) -> str:
    """The path of *name* the configuration names: --NAME, else found; a
    placeholder when the target does not name it (--undo names nothing)."""
    needed = needed and not args.undo
    given: str | None = getattr(args, name.replace("-", "_"))
    if given is not None:
        if not os.path.isabs(given):
            raise _common.UsageError(f"--{name} must be an absolute path: '{given}'")
        if args.root is None and needed and not _executable(given):
            raise InstallError(f"--{name} {given}: not an executable file")
        return given
    if not needed:
        return f"/usr/local/bin/{name}"
    found = find_program(name)
    if found is None:
        raise InstallError(f"cannot find {name} (not beside ptag nor on PATH); pass --{name} PATH")
    return found


def _real(root: str | None, path: str) -> str:
    return path if root is None else os.path.join(root, path.lstrip("/"))


def _read(real: str, shown: str) -> bytes | None:
    if os.path.islink(real):
        raise InstallError(f"{shown} is a symbolic link; edit its target by hand")
    try:
        with open(real, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise InstallError(f"{shown} is a directory") from None
    except OSError as exc:
        raise InstallError(f"cannot read {shown}: {_common.reason(exc)}") from None


def _text(data: bytes | None, shown: str) -> str:
    if data is None:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InstallError(f"{shown} is not UTF-8 text; fix it first") from None


def _mode_of(real: str, default: int) -> int:
    try:
        return os.stat(real).st_mode & 0o7777
    except OSError:
        return default


# --- planning: every change computed and checked before anything is written ----------


def _own_file(
    args: argparse.Namespace,
    shown: str,
    content: str,
    ours: Callable[[str], bool],
    mode: int = 0o644,
) -> Change | None:
    """The change that makes *shown* hold *content* (or, with --undo, go away);
    None when there is nothing to do.  Refuses a file that is not ours."""
    real = _real(args.root, shown)
    old = _read(real, shown)
    new = None if args.undo else content.encode("utf-8")
    if old == new:
        return None
    if old is not None and not ours(_text(old, shown)):
        raise InstallError(
            f"{shown} exists and was not written by ptag install; move it away first"
        )
    if old is None and new is None:
        return None
    return Change(shown, real, old, new, _mode_of(real, mode))


def _marked(target: str) -> Callable[[str], bool]:
    mark = integrations.marker(target)
    return lambda text: mark in text.split("\n", 2)[:2]


def _plan_docker(args: argparse.Namespace, paths: integrations.Paths) -> list[Change]:
    shown = integrations.DOCKER_DAEMON_JSON
    real = _real(args.root, shown)
    old = _read(real, shown)
    text = _text(old, shown)
    try:
        if args.undo:
            if old is None:
                return []
            merged = integrations.docker_unmerge(text, paths, where=shown)
        else:
            merged = integrations.docker_merge(text, paths, default=args.default, where=shown)
    except integrations.ConfigError as exc:
        raise InstallError(str(exc)) from None
    if args.undo and not integrations.docker_has_ptag(text):
        return []
    new = None if merged is None else merged.encode("utf-8")
    if new == old or (not args.undo and old is not None and _same_json(old, new)):
        return []
    return [Change(shown, real, old, new, _mode_of(real, 0o644))]


def _same_json(a: bytes | None, b: bytes | None) -> bool:
    import json

    try:
        return a is not None and b is not None and json.loads(a) == json.loads(b)
    except ValueError:
        return False


def _unit_files(root: str | None, unit: str) -> tuple[str, list[tuple[str, str]]]:
    """The unit's file and its drop-ins (other than ours), as (shown path, text),
    in the order systemd applies them."""
    names = [unit]
    if "@" in unit and not unit.split("@", 1)[1].startswith("."):
        names.append(unit.split("@", 1)[0] + "@" + unit[unit.rindex(".") :])
    main = None
    for name in names:
        for d in integrations.SYSTEMD_DIRS:
            shown = f"{d}/{name}"
            if os.path.isfile(_real(root, shown)):
                main = shown
                break
        if main is not None:
            break
    if main is None:
        raise InstallError(
            f"unit {unit} not found in {', '.join(integrations.SYSTEMD_DIRS)}"
            + (f" under {root}" if root else "")
        )
    dropins: dict[str, str] = {}
    for name in names:
        for d in integrations.SYSTEMD_DIRS:
            folder = f"{d}/{name}.d"
            try:
                entries = os.listdir(_real(root, folder))
            except OSError:
                continue
            for entry in entries:
                if entry.endswith(".conf") and entry not in dropins:
                    dropins[entry] = f"{folder}/{entry}"
    dropins.pop(integrations.SYSTEMD_DROPIN, None)
    out = [(main, _text(_read(_real(root, main), main), main))]
    for entry in sorted(dropins):
        shown = dropins[entry]
        out.append((shown, _text(_read(_real(root, shown), shown), shown)))
    return main, out


def _plan_systemd(args: argparse.Namespace, paths: integrations.Paths) -> list[Change]:
    unit: str = args.unit
    shown = f"{integrations.SYSTEMD_DIRS[0]}/{unit}.d/{integrations.SYSTEMD_DROPIN}"
    ours = _marked(f"systemd {unit}")
    if args.undo:
        change = _own_file(args, shown, "", ours)
        return [change] if change else []
    tags = _systemd_tags(args.tag)
    main, files = _unit_files(args.root, unit)
    try:
        commands = integrations.exec_starts([t for _, t in files], main)
    except integrations.ConfigError as exc:
        raise InstallError(str(exc)) from None
    content = integrations.systemd_dropin(unit, commands, tags, paths)
    change = _own_file(args, shown, content, ours)
    return [change] if change else []


def _systemd_tags(given: Sequence[str]) -> list[tuple[str, str]]:
    if not given:
        return list(SYSTEMD_DEFAULT_TAGS)
    pairs = []
    for text in given:
        try:
            key, value = _common.split_assignment(text)
            _common.check_tag(key, value)
        except ValueError as exc:
            raise _common.UsageError(f"invalid tag '{text}': {exc}") from None
        pairs.append((key, value))
    return _common.dedupe(pairs)


def plan(args: argparse.Namespace, paths: integrations.Paths) -> list[Change]:
    """Every change TARGET needs, in order; InstallError if one cannot be made."""
    t = args.target
    I = integrations  # noqa: E741
    if t == "docker":
        return _plan_docker(args, paths)
    if t == "systemd":
        return _plan_systemd(args, paths)
    files: list[tuple[str, str, Callable[[str], bool], int]]
    if t == "podman":
        files = [(I.PODMAN_CONF, I.podman_conf(paths, default=args.default), _marked(t), 0o644)]
    elif t == "cri-o":
        files = [(I.CRIO_CONF, I.crio_conf(paths, default=args.default), _marked(t), 0o644)]
    elif t == "podman-hook":
        files = [(I.PODMAN_HOOK, I.oci_hook(paths, "podman"), I.is_oci_hook, 0o644)]
    elif t == "cri-o-hook":
        files = [(I.CRIO_HOOK, I.oci_hook(paths, "cri-o"), I.is_oci_hook, 0o644)]
    else:  # lxc
        files = [
            (I.LXC_HOOK, I.lxc_hook(paths), _marked(t), 0o755),
            (I.LXC_CONF, I.lxc_conf(), _marked(t), 0o644),
        ]
    changes = [_own_file(args, shown, text, ours, mode) for shown, text, ours, mode in files]
    return [c for c in changes if c is not None]


# --- applying: atomic per file, all or nothing ---------------------------------------


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _makedirs(path: str, created: list[str]) -> None:
    """``mkdir -p``, remembering the directories it made (for a rollback)."""
    if os.path.isdir(path):
        return
    if os.path.lexists(path):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
    parent = os.path.dirname(path)
    if parent and parent != path:
        _makedirs(parent, created)
    os.mkdir(path, 0o755)
    created.append(path)


def write_atomic(path: str, data: bytes, mode: int) -> None:
    """Replace *path* with *data* by renaming a temporary file of the same directory
    over it: a reader sees the old file or the new one, never a part."""
    folder = os.path.dirname(path)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.ptag-install-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
            try:
                st = os.stat(path)
                os.fchown(fd, st.st_uid, st.st_gid)
            except OSError:
                pass
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _put(change: Change, data: bytes | None, created: list[str]) -> None:
    if data is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(change.real)
        _fsync_dir(os.path.dirname(change.real))
        return
    _makedirs(os.path.dirname(change.real), created)
    write_atomic(change.real, data, change.mode)


def apply(changes: Sequence[Change]) -> None:
    """Make every change, or (when one fails) none: the earlier ones are undone."""
    done: list[Change] = []
    created: list[str] = []
    for change in changes:
        try:
            _put(change, change.new, created)
        except OSError as exc:
            for prev in reversed(done):
                with contextlib.suppress(OSError):
                    _put(prev, prev.old, [])
            for d in reversed(created):
                with contextlib.suppress(OSError):
                    os.rmdir(d)
            what = "remove" if change.new is None else "write"
            why = _common.reason(exc)
            if exc.errno == errno.EROFS:
                why = "read-only file system"
            raise InstallError(f"cannot {what} {change.shown}: {why}; nothing changed") from None
        done.append(change)


def diff(change: Change) -> str:
    """The change as a unified diff."""
    import difflib

    old = (change.old or b"").decode("utf-8", "replace").splitlines(keepends=True)
    new = (change.new or b"").decode("utf-8", "replace").splitlines(keepends=True)
    before = change.shown if change.old is not None else "/dev/null"
    after = change.shown if change.new is not None else "/dev/null"
    lines = list(difflib.unified_diff(old, new, before, after))
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _undo_command(args: argparse.Namespace) -> str:
    import shlex

    words = ["ptag", "install", "--undo"]
    if args.root is not None:
        words += ["--root", args.root]
    words.append(args.target)
    if args.unit:
        words.append(args.unit)
    return " ".join(shlex.quote(w) for w in words)


def _run(args: argparse.Namespace) -> int:
    t = args.target
    if t == "systemd":
        if not args.unit:
            raise _common.UsageError("systemd needs a UNIT (for example: billing.service)")
        if "/" in args.unit or not args.unit.endswith(".service"):
            raise _common.UsageError(f"UNIT must be a service name (NAME.service): '{args.unit}'")
    elif args.unit is not None:
        raise _common.UsageError(f"unexpected argument '{args.unit}' ({t} takes no UNIT)")
    if args.tag and t != "systemd":
        raise _common.UsageError("-t/--tag is for the systemd target only")
    if args.default and t not in ("docker", "podman", "cri-o"):
        raise _common.UsageError("--default is for docker, podman and cri-o only")
    if args.root is not None:
        if not os.path.isdir(args.root):
            raise _common.UsageError(f"--root {args.root}: not a directory")
        args.root = os.path.abspath(args.root)
    paths = integrations.Paths(
        _program(args, "ptag", t in ("podman-hook", "cri-o-hook", "lxc")),
        _program(args, "ptag-exec", t == "systemd"),
        _program(args, "ptag-runtime", t in ("docker", "podman", "cri-o")),
    )
    changes = plan(args, paths)
    if args.dry_run:
        for change in changes:
            _common.emit(diff(change))
        if not changes:
            _common.emit(f"{t}: nothing to change\n")
        return 0
    if not changes:
        state = "not installed" if args.undo else "already installed"
        _common.emit(f"{t}: {state}, nothing changed\n")
        return 0
    apply(changes)
    for change in changes:
        _common.emit(f"{change.verb} {change.shown}\n")
    if not args.undo:
        table = NEXT_DEFAULT if args.default else NEXT
        _common.emit(f"next: {table[t].format(unit=args.unit)}\n")
        _common.emit(f"undo: {_undo_command(args)}\n")
    return 0
