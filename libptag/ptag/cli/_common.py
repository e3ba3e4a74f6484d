"""Plumbing shared by the CLI modules: one-line error reporting, the last-resort
guard, and tag-error wording.  Argument parsing is in :mod:`._parser`: this module
does not import :mod:`argparse`, so ``ptag-runtime`` does not pay for it."""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import signal
import sys

import ptag
from ptag import keys as _keys

from .output import escape as escape  # the one terminal-safe notation, for every module
from .output import unencodable

TYPE_CHECKING = False  # not `from typing import ...`: see ptag._types
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence


def _well_known(*names: str, default: str) -> str:
    """A key constant from :mod:`ptag.keys`, whichever spelling it uses."""
    for name in names:
        value = getattr(_keys, name, None)
        if isinstance(value, str):
            return value
    return default


CONTAINER_ID = _well_known("CONTAINER_ID", default="container.id")
CONTAINER_NAME = _well_known("CONTAINER_NAME", default="container.name")
CONTAINER_RUNTIME = _well_known("CONTAINER_RUNTIME", default="container.runtime")
POD_NAMESPACE = _well_known("POD_NAMESPACE", "K8S_POD_NAMESPACE", default="k8s.pod.namespace")
POD_NAME = _well_known("POD_NAME", "K8S_POD_NAME", default="k8s.pod.name")
POD_UID = _well_known("POD_UID", "K8S_POD_UID", default="k8s.pod.uid")

#: One line telling the user why ptag cannot work and where to get it.
NO_SUPPORT = (
    "kernel lacks ptag support "
    "(boot a Linux kernel built with the ptag patch series and CONFIG_PTAG=y)"
)

#: Exit status for a process that died of SIGPIPE (quiet end of ``| head``).
EXIT_SIGPIPE = 128 + signal.SIGPIPE
EXIT_INTERRUPTED = 128 + signal.SIGINT


def version() -> str:
    """The package version, without importing anything heavy."""
    v = getattr(ptag, "__version__", None)
    if isinstance(v, str) and v:
        return v
    try:
        from importlib import metadata

        for dist in ("ptag", "libptag"):
            try:
                return metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
    except Exception:  # a version string is never worth a crash
        pass
    return "unknown"


def warn(prog: str, message: str) -> None:
    """Print ``prog: message`` on stderr, as one line."""
    print(f"{prog}: {one_line(message)}", file=sys.stderr, flush=True)


def one_line(text: str) -> str:
    """A message on one line, safe on a terminal: newlines become spaces, and
    whatever else a terminal would misrender (a value's control, bidirectional or
    invisible characters, bytes that are not UTF-8) is escaped by :func:`escape`.
    Build messages from the raw values and let this escape them, once."""
    return escape(" ".join(text.split("\n")))


class WriteError(Exception):
    """Writing to stdout failed (not a broken pipe): ``write error: ...``."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(exc.strerror or str(exc))
        self.exc = exc


def emit(text: str) -> None:
    """Write to stdout; a failure other than a broken pipe is a WriteError."""
    try:
        sys.stdout.write(text)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise WriteError(exc) from None


def emit_bytes(data: bytes) -> None:
    """Write bytes to stdout, after any text already buffered."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        emit(data.decode("utf-8", "replace"))
        return
    try:
        sys.stdout.flush()
        buffer.write(data)
        buffer.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise WriteError(exc) from None


def flush() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise WriteError(exc) from None


class UsageError(Exception):
    """Bad command-line syntax, reported as one line with exit status 2."""


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing :mod:`shutil`."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            stdout = sys.__stdout__
            columns = os.get_terminal_size(stdout.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            return 80
        if columns == 0 and sys.version_info >= (3, 11):  # 3.11 falls back for 0 too
            columns = 80
    return columns


def split_assignment(text: str) -> tuple[str, str]:
    """Split ``KEY=VALUE`` at the first ``=``; ValueError when malformed."""
    key, sep, value = text.partition("=")
    if not sep:
        raise ValueError("expected KEY=VALUE")
    if not key:
        raise ValueError("empty key (expected KEY=VALUE)")
    return key, value


def check_tag(key: str, value: str | None) -> None:
    """Validate a key (and value) with the library's rules.

    Also insists that the text is valid UTF-8: command-line arguments that
    are not arrive as lone surrogates, which the kernel could never show.
    """
    for what, text in (("key", key), ("value", value)):
        if text is None:
            continue
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{what} is not valid UTF-8") from None
    ptag.validate_key(key)
    if value is not None:
        ptag.validate_value(value)


def reason(exc: BaseException) -> str:
    """A short human reason for a library error, without the key or pid."""
    if isinstance(exc, ptag.NotSupportedError):
        return NO_SUPPORT
    if isinstance(exc, ptag.TagExistsError):
        return "tag already set (tags can never be changed or removed)"
    if isinstance(exc, OSError) and exc.errno == errno.E2BIG:
        return (
            f"key or value too long (keys at most {ptag.KEY_MAX} bytes, "
            f"values at most {ptag.VALUE_MAX})"
        )
    if isinstance(exc, ptag.TagLimitError) or (
        isinstance(exc, OSError) and exc.errno == errno.ENOSPC
    ):
        return f"too many tags (a process may carry at most {ptag.MAX_TAGS})"
    if isinstance(exc, ptag.TagProcessLookupError):
        return "no such process"
    if isinstance(exc, ptag.TagPermissionError):
        return "permission denied (tagging another process needs the right to ptrace it)"
    if isinstance(exc, OSError):
        err = exc.errno
        if err is not None:
            return os.strerror(err)
        return str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


def open_pidfd(pid: int) -> int | None:
    """``pidfd_open(pid)``; None where pidfds are unavailable (pre-5.3).

    ProcessLookupError propagates: the caller reports a vanished process.
    """
    opener: Callable[[int], int] | None = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EINVAL):
            return None
        raise


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def guarded(prog: str, func: Callable[[], int], *, internal_status: int = 1) -> int:
    """Run ``func`` and turn anything escaping it into an exit status.

    - ``SystemExit`` passes its status through (argparse, --help, --version);
    - ``BrokenPipeError`` (``ptag ps | head -1``) ends quietly with 141,
      the status of a process killed by SIGPIPE;
    - ``KeyboardInterrupt`` ends with 130;
    - anything else is a bug or an unexpected environment: one line,
      ``prog: internal error: ...``, and ``internal_status``.  Never a traceback.
    """
    try:
        try:
            status = func()
            flush()
            return status
        except SystemExit as exc:
            flush()
            code = exc.code
            if code is None:
                return 0
            if isinstance(code, int):
                return code
            warn(prog, str(code))
            return internal_status
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_SIGPIPE
    except KeyboardInterrupt:
        _silence_stdout()
        return EXIT_INTERRUPTED
    except WriteError as exc:
        _silence_stdout()
        with contextlib.suppress(Exception):
            warn(prog, f"write error: {exc}")
        return internal_status
    except Exception as exc:  # the last resort, by design
        msg = f"internal error: {type(exc).__name__}: {exc}"
        _silence_stdout()
        with contextlib.suppress(Exception):
            warn(prog, msg)
        return internal_status


def restore_signals() -> None:
    """Give back the default SIGPIPE and SIGXFSZ dispositions, which Python ignores.

    For a command that ends in ``execv``: the program it runs (ptag-exec's COMMAND,
    ptag-runtime's real runtime) then starts as it would from a shell.
    """
    for name in ("SIGPIPE", "SIGXFSZ"):
        sig = getattr(signal, name, None)
        if sig is not None:
            with contextlib.suppress(OSError, ValueError):
                signal.signal(sig, signal.SIG_DFL)


def setup_stdio() -> None:
    """Never die of an unencodable character on a non-UTF-8 terminal: write it in
    :func:`escape`'s notation (``é`` as ``\\u00e9``; Python's ``backslashreplace``
    would write ``\\xe9``, which that notation reads as a byte that is not UTF-8)."""
    codecs.register_error("ptag.escape", unencodable)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="ptag.escape")


def dedupe(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop exact duplicates, keeping the first occurrence's position."""
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str]] = []
    for pair in pairs:
        if pair not in seen:
            seen.add(pair)
            out.append(pair)
    return out


def argv_or_sys(argv: Sequence[str] | None) -> list[str]:
    return list(sys.argv[1:] if argv is None else argv)


def overflow_uid() -> int:
    """The uid the kernel shows for an owner with no uid in the reader's user
    namespace (``/proc/sys/kernel/overflowuid``, 65534 unless changed)."""
    try:
        with open("/proc/sys/kernel/overflowuid", "rb") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 65534


def copyable(found: Mapping[str, ptag.Tag]) -> tuple[int, list[tuple[str, str]]] | None:
    """This process's real uid and the tags of *found* it owns, oldest first: the
    ones a copy reproduces faithfully, since a copy is owned by the copier (copying
    another user's tag would put this uid's name to it).  None when the uid is the
    overflow uid, which stands for every owner unmapped here: then no owner can be
    told from ours.  ``ptag-runtime exec`` and ``ptag-exec --from`` copy by this."""
    uid = os.getuid()
    if uid == overflow_uid():
        return None
    return uid, [(k, t.value) for k, t in found.items() if t.owner == uid]


class Target:
    """The process to tag: this one, or another by pidfd (or by pid where
    pidfds are unavailable)."""

    def __init__(self, pid: int | None = None, pidfd: int | None = None) -> None:
        self.pid = pid
        self.pidfd = pidfd

    def set(self, key: str, value: str) -> None:
        if self.pidfd is not None:
            ptag.set(key, value, pidfd=self.pidfd)
        elif self.pid is not None:
            ptag.set(key, value, pid=self.pid)
        else:
            ptag.set(key, value)

    def get(self, key: str) -> str | None:
        if self.pidfd is not None:
            return ptag.get(key, pidfd=self.pidfd)
        if self.pid is not None:
            return ptag.get(key, pid=self.pid)
        return ptag.get(key)

    def current(self, key: str) -> str | None:
        """The tag's value, or None when it cannot be read."""
        try:
            return self.get(key)
        except OSError:
            return None


def set_all(
    pairs: Sequence[tuple[str, str]], target: Target, *, exist_ok: bool
) -> tuple[str, BaseException] | None:
    """Set ``pairs`` in order; the first failure as ``(key, exception)``.

    With ``exist_ok`` a tag that is already set is accepted only when its
    value is the same: the CLI checks that itself, so a different value is
    always an error, whatever the library's own ``exist_ok`` does.
    """
    for key, value in pairs:
        try:
            target.set(key, value)
        except ptag.TagExistsError as exc:
            if not exist_ok:
                return key, exc
            try:
                current = target.get(key)
            except OSError as exc2:
                return key, exc2
            if current != value:
                return key, exc
        except OSError as exc:
            return key, exc
    return None


def failure_reason(key: str, value: str, exc: BaseException, target: Target) -> str:
    """The REASON for ``cannot set tag 'KEY': REASON``."""
    if isinstance(exc, ptag.TagExistsError):
        current = target.current(key)
        if current is None:
            return "tag already set (tags can never be changed or removed)"
        if current == value:
            return "already set to this value (--exist-ok accepts that)"
        return f"already set to '{current}' (tags can never be changed or removed)"
    return reason(exc)
