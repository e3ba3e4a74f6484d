"""``ptag-runtime-py``: the Python half of ``ptag-runtime``, an OCI runtime wrapper.

The POSIX sh front ``ptag-runtime`` finds the real runtime (runc, crun...) and execs
it at once for every command but ``create``, ``run`` and ``exec``; for those three
it runs ``ptag-runtime-py --front STATUS REAL ARG...``, this module, where STATUS is
``ok`` or why the real runtime could not be found (``notfound``, ``self``, ``loop``,
``badopt``) and REAL its path (or the name that was not found).

- ``create``/``run``: read the bundle's ``config.json``, compute the tags with the
  mapping ``ptag oci-hook`` uses (:func:`ptag._oci.tags_for`), set them on itself,
  then exec REAL with the arguments unchanged (ptag-runtime's own ``--ptag-*``
  options removed): the container's init is REAL's child and inherits the tags.
- ``exec``: ask REAL for ``state ID`` (with the same global options), read the tags
  of the container's init through a pidfd, set those this uid set (create's) on
  itself, exec REAL: the exec'd process inherits them.

Fails closed: when tagging fails, one line on stderr and in the ``--log`` file (in
the ``--log-format``), exit 125, and REAL does not run, unless best effort was asked
(``--ptag-best-effort`` or ``PTAG_RUNTIME_BEST_EFFORT=1``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time

import ptag
from ptag import _oci

from . import _common, runtime_args, runtime_log

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

PROG = "ptag-runtime"
EXIT_FAILURE = 125
EXIT_CANNOT_INVOKE = 126
EXIT_ENOENT = 127

#: Set for the real runtime: ptag-runtime started under it is a loop.
ACTIVE_ENV = "PTAG_RUNTIME_ACTIVE"
#: Set by the sh front when it set PYTHONCOERCECLOCALE=0 for us alone.
NOCOERCE_ENV = "PTAG_RUNTIME_NOCOERCE"
MAX_CONFIG_BYTES = 16 * 1024 * 1024
STATE_TIMEOUT = 120.0

USAGE = """\
Usage:
 ptag-runtime [--ptag-OPTION]... [RUNTIME OPTIONS] COMMAND [OPTIONS] [ID] [ARG]...

An OCI runtime wrapper with runc's command line: create and run tag the
container's processes from the bundle's config.json (as 'ptag oci-hook' does),
exec tags the exec'd process like the container's init, and every other command
goes straight to the real runtime.

Options (before COMMAND; removed before the real runtime runs):
     --ptag-runtime PATH|NAME     the real runtime (default: $PTAG_RUNTIME, else
                                  runc, then crun, on PATH)
     --ptag-runtime-name NAME     container.runtime's value (default:
                                  $PTAG_RUNTIME_NAME, else the real runtime's file
                                  name; empty: not set)
     --ptag-key-prefix PREFIX     put PREFIX before every key ($PTAG_KEY_PREFIX), for
                                  a runtime inside a tagged container: inner.
     --ptag-annotation-prefix P   annotations PKEY=VALUE become tags KEY=VALUE
                                  (default: $PTAG_ANNOTATION_PREFIX, else
                                  org.ptag.tag.; empty: none)
     --ptag-best-effort           run the real runtime even when tagging fails
                                  (also PTAG_RUNTIME_BEST_EFFORT=1)
     --ptag-help                  display this help
     --ptag-version               display version

Exit status:
 125  ptag-runtime failed (a tag could not be set, a bad option, the real
      runtime is ptag-runtime itself); the real runtime did not run
 126  the real runtime could not be executed
 127  the real runtime was not found
 otherwise the real runtime's exit status

See ptag-runtime(1).
"""


class TagFailure(Exception):
    """Why the container's processes cannot be tagged, as the whole message;
    ``partial``: the tags that were set all the same (a kernel error part-way)."""

    def __init__(self, message: str, partial: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.partial = tuple(partial)


class Settings:
    """ptag-runtime's options, from ``--ptag-*`` or the environment."""

    __slots__ = ("annotation_prefix", "best_effort", "key_prefix", "runtime_name")

    def __init__(self, inv: runtime_args.Invocation, real: str, env: Mapping[str, str]) -> None:
        opts = inv.ptag
        self.best_effort = "best-effort" in opts or _env_flag(env, "PTAG_RUNTIME_BEST_EFFORT")
        self.key_prefix = opts.get("key-prefix", env.get("PTAG_KEY_PREFIX", ""))
        self.annotation_prefix = opts.get(
            "annotation-prefix", env.get("PTAG_ANNOTATION_PREFIX", _oci.DEFAULT_PREFIX)
        )
        name = opts.get("runtime-name", env.get("PTAG_RUNTIME_NAME"))
        self.runtime_name = os.path.basename(real) if name is None else name


def _env_flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "")
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    raise runtime_args.ArgsError(f"{name} must be 1 or 0, not '{env[name]}'", None, None)


class Reporter:
    """Says a failure on stderr and in the runtime's ``--log`` file."""

    def __init__(self, log: str | None, log_format: str | None) -> None:
        self.log = log
        self.log_format = log_format

    def __call__(self, message: str, level: str = "error") -> None:
        text = f"{PROG}: {_common.one_line(message)}"
        with contextlib.suppress(OSError, ValueError):
            print(text, file=sys.stderr, flush=True)
        if self.log:
            runtime_log.append(
                self.log, runtime_log.line(level, text, self.log_format, time.time())
            )


def _not_found(real: str) -> tuple[str, int]:
    if real:
        return (
            f"real runtime '{real}' not found; install it, or name the real runtime "
            "with PTAG_RUNTIME or --ptag-runtime",
            EXIT_ENOENT,
        )
    return (
        "no real runtime: neither runc nor crun is on PATH; install one, or name it "
        "with PTAG_RUNTIME=PATH or --ptag-runtime=PATH",
        EXIT_ENOENT,
    )


def front_error(status: str, real: str) -> tuple[str, int] | None:
    """The message and exit status for the sh front's STATUS, None when ``ok``."""
    if status in ("ok", "info", "badopt"):  # info: --ptag-help; badopt: parse() said it
        return None
    if status == "notfound":
        return _not_found(real)
    if status == "self":
        return (
            f"the real runtime '{real}' is ptag-runtime itself; point PTAG_RUNTIME or "
            "--ptag-runtime at runc or crun",
            EXIT_FAILURE,
        )
    if status == "loop":
        return (
            f"started again under its own real runtime '{real}' ({ACTIVE_ENV} is set): a "
            "loop; point PTAG_RUNTIME or --ptag-runtime at the real runc or crun",
            EXIT_FAILURE,
        )
    return f"internal error: unknown front status '{status}'", EXIT_FAILURE


def read_config(inv: runtime_args.Invocation) -> tuple[str, _oci.Config]:
    """The bundle's config file (``--bundle``, else the current directory; crun's
    ``--config`` names it): its path and annotations; TagFailure."""
    path = os.path.join(inv.bundle or ".", inv.config or "config.json")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise TagFailure(f"cannot read {path}: {_common.reason(exc)}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise TagFailure(f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        return path, _oci.parse_config(data, name=path)
    except _oci.OciError as exc:
        raise TagFailure(str(exc)) from None


def create_tags(
    inv: runtime_args.Invocation, cid: str, settings: Settings
) -> list[tuple[str, str]]:
    """The tags of a container about to be created: what ``ptag oci-hook`` sets."""
    _path, config = read_config(inv)
    try:
        return _oci.tags_for(
            cid,
            config.annotations,
            prefix=settings.annotation_prefix,
            runtime=settings.runtime_name or None,
            key_prefix=settings.key_prefix,
            id_source="the container id",
            runtime_source="the runtime's name",
        )
    except _oci.OciError as exc:
        raise TagFailure(str(exc)) from None


def _marked_env(real: str) -> dict[str, str]:
    """The environment for the real runtime: ours, with ACTIVE_ENV set, and without
    what the sh front added for Python alone (its locale request)."""
    env = dict(os.environ)
    if env.pop(NOCOERCE_ENV, None) == "1":
        env.pop("PYTHONCOERCECLOCALE", None)
    env[ACTIVE_ENV] = real
    return env


def init_pid(real: str, inv: runtime_args.Invocation, cid: str) -> int:
    """The container's init PID, from ``REAL [GLOBAL OPTIONS] state CID``; TagFailure."""
    import subprocess  # only exec needs it

    name = os.path.basename(real)
    cmd = [real, *inv.global_args, "state", cid]
    try:
        p = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=_marked_env(real),
            timeout=STATE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TagFailure(f"'{name} state {cid}' did not answer in {STATE_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise TagFailure(f"cannot run '{real} state': {_common.reason(exc)}") from None
    if p.returncode != 0:
        lines = p.stderr.decode("utf-8", "replace").strip().splitlines()
        why = f": {lines[-1]}" if lines else ""
        raise TagFailure(
            f"cannot find container '{cid}': '{name} state' exited {p.returncode}{why}"
        )
    try:
        return _oci.parse_runtime_state(p.stdout, cid)
    except _oci.OciError as exc:
        raise TagFailure(f"'{name} state': {exc}") from None


def init_tags(pid: int, cid: str, settings: Settings) -> list[tuple[str, str]]:
    """The tags of the container's init *pid* that this process can copy faithfully,
    oldest first, read through a pidfd: those set by this process's real uid, as
    ptag-runtime's create set them.  A copy is owned by the copier, so a tag set by
    anyone else (the container's own processes) would come out as ours: it is left
    out.  TagFailure unless the init carries ``container.id`` = *cid* (behind the
    key prefix) set by this uid."""
    try:
        pidfd = _common.open_pidfd(pid)
    except ProcessLookupError:
        raise TagFailure(f"init PID {pid} of container '{cid}' does not exist") from None
    except OSError as exc:
        raise TagFailure(f"cannot open init PID {pid}: {_common.reason(exc)}") from None
    try:
        found = ptag.tags(pidfd=pidfd) if pidfd is not None else ptag.tags(pid)
    except ptag.NotSupportedError:
        raise TagFailure(_common.NO_SUPPORT) from None
    except OSError as exc:
        raise TagFailure(
            f"cannot read the tags of init PID {pid} of container '{cid}': {_common.reason(exc)}"
        ) from None
    finally:
        if pidfd is not None:
            os.close(pidfd)
    key = settings.key_prefix + ptag.keys.CONTAINER_ID
    tag = found.get(key)
    if tag is None:
        raise TagFailure(
            f"init PID {pid} of container '{cid}' carries no '{key}' tag (was it created "
            "through ptag-runtime or ptag oci-hook?), so the exec'd process would be untagged"
        )
    if tag.value != cid:
        raise TagFailure(
            f"init PID {pid} of container '{cid}' carries {key}='{tag.value}', not this id"
        )
    own = _common.copyable(found)
    if own is None:
        raise TagFailure(
            f"this runtime runs as uid {os.getuid()}, the overflow uid that stands for "
            "every owner with no uid here, so the owner of the init's tags cannot be told "
            "apart"
        )
    uid, pairs = own
    if tag.owner != uid:
        raise TagFailure(
            f"init PID {pid} of container '{cid}' carries {key}='{cid}' set by uid "
            f"{tag.owner}, not by this runtime's uid {uid}: not a tag of ptag-runtime's "
            "create, so the exec'd process would be vouched for by a tag anyone could set"
        )
    return pairs


def _conflict(key: str, current: str, settings: Settings) -> TagFailure:
    hint = ""
    if not settings.key_prefix:
        hint = (
            " (a runtime inside a tagged container needs keys of its own: --ptag-key-prefix inner.)"
        )
    return TagFailure(
        f"cannot set tag '{key}': already set to '{current}' (tags can never be changed or "
        f"removed){hint}"
    )


def tag_self(pairs: Sequence[tuple[str, str]], settings: Settings) -> None:
    """Set *pairs* on this process; one already set to the same value is fine (a
    nested runtime shares its container's tags); TagFailure otherwise.

    What can be known beforehand is checked before the first tag is set: a key this
    process already carries with another value, and room for the new ones among
    ``MAX_TAGS``.  Only a kernel error part-way (no memory) can leave some set: the
    TagFailure then names them (``partial``)."""
    if not ptag.supported():
        raise TagFailure(_common.NO_SUPPORT)
    try:
        have = ptag.tags()
    except OSError as exc:
        raise TagFailure(f"cannot read this process's tags: {_common.reason(exc)}") from None
    new: list[str] = []
    for key, value in pairs:
        tag = have.get(key)
        if tag is not None and tag.value != value:
            raise _conflict(key, tag.value, settings)
        if tag is None and key not in new:
            new.append(key)
    if len(have) + len(new) > ptag.MAX_TAGS:
        raise TagFailure(
            f"cannot set {len(new)} tags: this process already carries {len(have)} (inherited) "
            f"and a process has at most {ptag.MAX_TAGS}"
        )
    target = _common.Target()
    failure = _common.set_all(pairs, target, exist_ok=True)
    if failure is None:
        return
    key, error = failure
    tried = {k for k, _ in pairs[: [k for k, _ in pairs].index(key)]}
    done = [k for k in new if k in tried]
    if isinstance(error, ptag.TagExistsError):
        current = target.current(key)
        if current is not None and current != dict(pairs)[key]:
            raise TagFailure(str(_conflict(key, current, settings)), done)
    why = _common.failure_reason(key, dict(pairs)[key], error, target)
    raise TagFailure(f"cannot set tag '{key}': {why}", done)


def execute(real: str, inv: runtime_args.Invocation, report: Reporter) -> int:
    """Exec the real runtime with the arguments; only returns (a status) on failure."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    _common.restore_signals()
    try:
        os.execve(real, [real, *inv.argv], _marked_env(real))
    except OSError as exc:
        report(f"cannot execute the real runtime '{real}': {_common.reason(exc)}")
        return EXIT_ENOENT if exc.errno == errno.ENOENT else EXIT_CANNOT_INVOKE
    except ValueError as exc:  # an embedded NUL byte
        report(f"cannot execute the real runtime '{real}': {exc}")
        return EXIT_CANNOT_INVOKE


def _main(argv: Sequence[str] | None) -> int:
    args = _common.argv_or_sys(argv)
    if len(args) < 3 or args[0] != "--front":
        _common.warn(
            "ptag-runtime-py",
            "the Python half of ptag-runtime, started by it; run ptag-runtime instead",
        )
        return EXIT_FAILURE
    status, real, rest = args[1], args[2], args[3:]
    try:
        inv = runtime_args.parse(rest)
    except runtime_args.ArgsError as exc:
        Reporter(exc.log, exc.log_format)(f"{exc}; see ptag-runtime(1)")
        return EXIT_FAILURE
    if "help" in inv.ptag:
        sys.stdout.write(USAGE)
        return 0
    if "version" in inv.ptag:
        sys.stdout.write(f"{PROG} (ptag) {_common.version()}\n")
        return 0
    report = Reporter(inv.log, inv.log_format)
    try:
        settings = Settings(inv, real, os.environ)
    except runtime_args.ArgsError as exc:
        report(f"{exc}; see ptag-runtime(1)")
        return EXIT_FAILURE
    problem = front_error(status, real)
    if problem is not None:
        report(problem[0])
        return problem[1]
    cid = inv.cid
    if inv.command not in runtime_args.TAGGING or inv.help or cid is None:
        return execute(real, inv, report)  # nothing to tag: the runtime says what is wrong
    try:
        if inv.command == "exec":
            pairs = init_tags(init_pid(real, inv, cid), cid, settings)
        else:
            pairs = create_tags(inv, cid, settings)
        tag_self(pairs, settings)
    except TagFailure as exc:
        name = os.path.basename(real)
        if settings.best_effort:
            how = f"with only {', '.join(exc.partial)} set" if exc.partial else "untagged"
            report(f"{inv.command} {cid}: {exc}; running {name} {how} (best effort)", "warning")
            return execute(real, inv, report)
        report(
            f"{inv.command} {cid}: {exc}; {name} not run (PTAG_RUNTIME_BEST_EFFORT=1 runs it "
            "untagged)"
        )
        return EXIT_FAILURE
    return execute(real, inv, report)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ptag-runtime-py`` console script."""
    _common.setup_stdio()
    return _common.guarded(PROG, lambda: _main(argv), internal_status=EXIT_FAILURE)


if __name__ == "__main__":
    sys.exit(main())
