"""Reading tags from /proc: one process's ``ptags`` file, and the fast scan behind
:func:`ptag.process_iter`.

``/proc/<pid>/ptags`` holds one line per tag, oldest first:
``<owner-uid> <key>=<value>\\n``.  It exists only on a kernel with ptag support.
"""

from __future__ import annotations

import errno
import os
from types import MappingProxyType

from ._errors import NotSupportedError, error_from_errno
from ._types import ProcessInfo, Tag, _new_process_info, _new_process_stats, _new_tag

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs milliseconds
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

__all__ = ["parse_proc_tags", "process_iter", "read_proc_tags"]

_EMPTY: Mapping[str, Tag] = MappingProxyType({})
_RDONLY = os.O_RDONLY | os.O_CLOEXEC
_BIG = 65536  # ptags is at most 32 * (10 + 1 + 64 + 1 + 256 + 1) bytes; cgroup is small
# A process that exits while we read it: the open fails with ENOENT, the read with ESRCH.
_GONE = (errno.ENOENT, errno.ESRCH)


def parse_proc_tags(data: bytes) -> dict[str, Tag]:
    """Parse the contents of a ``/proc/<pid>/ptags`` file into ``{key: Tag}``,
    oldest first.

    Values are decoded as UTF-8 with ``surrogateescape``.  Raises :class:`ValueError`
    naming the line for a malformed line.
    """
    out: dict[str, Tag] = {}
    if not data:
        return out
    lines = data.split(b"\n")
    if lines[-1]:
        raise ValueError(f"ptags data does not end with a newline: {data[-40:]!r}")
    for n, line in enumerate(lines[:-1], 1):
        owner, sp, rest = line.partition(b" ")
        key, eq, value = rest.partition(b"=")
        if not (sp and eq and key and owner.isdigit()):
            raise ValueError(f"malformed ptags line {n}: {line!r}")
        k = key.decode("utf-8", "surrogateescape")
        out[k] = _new_tag(k, value.decode("utf-8", "surrogateescape"), int(owner))
    return out


def _pid_path(pid: int | str) -> str:
    if isinstance(pid, bool) or not isinstance(pid, (int, str)):
        raise TypeError(f"pid must be int or str, not {type(pid).__name__}")
    if isinstance(pid, int):
        if pid <= 0:
            raise ValueError(f"pid must be > 0, not {pid}")
        return str(pid)
    if pid in ("self", "thread-self") or (pid.isascii() and pid.isdigit() and int(pid) > 0):
        return pid
    raise ValueError(f"pid must be a positive number, 'self' or 'thread-self', not {pid!r}")


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        b = os.read(fd, _BIG)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def read_proc_tags(pid: int | str = "self") -> dict[str, Tag]:
    """Return the tags of process ``pid`` (default: the caller) read from
    ``/proc/<pid>/ptags``, oldest first.

    ``pid`` may be a number, ``"self"`` or ``"thread-self"``.  Raises
    :class:`~ptag.NotSupportedError` if the kernel lacks ptags (the process exists but
    has no ``ptags`` file) and :class:`~ptag.TagProcessLookupError` (a
    :class:`ProcessLookupError`) if the process does not exist.
    """
    p = _pid_path(pid)
    num = None if not p.isdigit() else int(p)
    try:
        fd = os.open(f"/proc/{p}/ptags", _RDONLY)
    except FileNotFoundError:
        if os.path.exists(f"/proc/{p}"):
            raise NotSupportedError(pid=num) from None
        raise error_from_errno(errno.ESRCH, None, num) from None
    try:
        data = _read_all(fd)
    except ProcessLookupError:
        raise error_from_errno(errno.ESRCH, None, num) from None
    finally:
        os.close(fd)
    return parse_proc_tags(data)


def _parse_stat(data: bytes) -> tuple[int, str, int]:
    """``(pid, comm, ppid)`` from ``/proc/<pid>/stat``: ``pid (comm) S ppid ...``.

    comm may contain spaces and parentheses, so it ends at the *last* ``)``.
    """
    lp = data.index(b" (")
    rp = data.rindex(b")")
    fields = data[rp + 2 :].split(b" ", 2)
    return int(data[:lp]), data[lp + 2 : rp].decode("utf-8", "surrogateescape"), int(fields[1])


def _parse_cgroup(data: bytes) -> str | None:
    """The cgroup v2 path (``0::<path>``) or, without one, the first line's path."""
    first = None
    for line in data.split(b"\n"):
        if line.startswith(b"0::"):
            return line[3:].decode("utf-8", "surrogateescape")
        if first is None and line:
            first = line.split(b":", 2)[-1].decode("utf-8", "surrogateescape")
    return first


def _read_at(name: str, dfd: int) -> bytes:
    """Read a small /proc file relative to ``dfd`` in as few system calls as possible:
    these are single-record seq files, so a short read means the end."""
    fd = os.open(name, _RDONLY, dir_fd=dfd)
    try:
        b = os.read(fd, _BIG)
        if len(b) < _BIG:
            return b
        return b + _read_all(fd)
    finally:
        os.close(fd)


def _read_tags(name: str, dfd: int) -> Mapping[str, Tag] | None:
    """The tags in ``<name>/ptags`` under the /proc directory *dfd*, read-only.

    None when the process is gone; no tags when the file cannot be read for
    another reason or holds a line this version cannot parse.
    """
    try:
        raw = _read_at(name + "/ptags", dfd)
    except OSError as e:
        return None if e.errno in _GONE else _EMPTY
    try:
        return MappingProxyType(parse_proc_tags(raw)) if raw else _EMPTY
    except ValueError:  # a line this version cannot parse: report no tags
        return _EMPTY


def proc_has_ptags(dfd: int | None = None) -> bool | None:
    """Whether ``/proc`` (or the proc mount open as ``dfd``) has ``ptags`` files: a
    kernel with ptag support.  Asks this process's entry, or, in a /proc of another
    PID namespace (after ``nsenter -m``, say), that namespace's init's; ``None``
    when neither is visible.  No system call beyond ``stat``; no ctypes."""
    return _proc_has("ptags", dfd)


def _proc_has(leaf: str, dfd: int | None) -> bool | None:
    """Whether the processes in /proc have the file ``leaf``, asked of ``self`` or,
    when /proc has no entry for the caller, of ``1``; None when neither is there."""
    base = "" if dfd is not None else "/proc/"
    for name in ("self", "1"):
        try:
            os.stat(base + name, dir_fd=dfd)
        except OSError:
            continue
        try:
            os.stat(f"{base}{name}/{leaf}", dir_fd=dfd)
        except OSError:
            return False
        return True
    return None


def process_iter(
    *, pids: Iterable[int] | None = None, cgroup: bool = True, stats: bool = False
) -> Iterator[ProcessInfo]:
    """Yield a :class:`~ptag.ProcessInfo` for every visible process (or for each of
    ``pids`` that exists), in /proc order.

    Processes that exit mid-scan, and processes whose ``stat`` cannot be read, are
    skipped; an unreadable ``ptags`` or ``cgroup`` gives empty ``tags`` / ``None``.
    Never raises for one process.  On a kernel without ptags, ``tags`` is always
    empty.  Costs about ten system calls per process (open, read and close of
    ``stat``, ``ptags`` and ``cgroup``, and one ``fstat`` for the uid); with
    ``cgroup=False`` the ``cgroup`` file is not read (three calls fewer) and every
    ``cgroup`` is ``None``.  With ``stats=True`` every record is a
    :class:`~ptag._types.ProcessStats`, which adds the CPU time, page faults,
    resident memory and thread count of ``/proc/<pid>/stat`` (read anyway) and the
    open file count (one more ``stat`` of ``/proc/<pid>/fd``).
    """
    dfd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        have_ptags = _proc_has("ptags", dfd) is True
        have_cgroup = cgroup and _proc_has("cgroup", dfd) is True
        if pids is None:
            names: Iterable[str] = (n for n in os.listdir(dfd) if n.isdigit())
        else:
            names = [str(int(p)) for p in pids]
        if stats:
            page, fd_size = os.sysconf("SC_PAGE_SIZE"), _fd_dir_has_size(dfd)
            for name in names:
                info = _scan_stats(name, dfd, have_ptags, have_cgroup, page, fd_size)
                if info is not None:
                    yield info
            return
        for name in names:
            info = _scan_one(name, dfd, have_ptags, have_cgroup)
            if info is not None:
                yield info
    finally:
        os.close(dfd)


def _scan_one(name: str, dfd: int, have_ptags: bool, have_cgroup: bool) -> ProcessInfo | None:
    """One process's snapshot, or None if it is gone or its stat is unreadable."""
    try:
        fd = os.open(name + "/stat", _RDONLY, dir_fd=dfd)
    except OSError:
        return None  # gone, not a pid, or hidden (hidepid)
    try:
        uid = os.fstat(fd).st_uid
        data = os.read(fd, 4096)
        pid, comm, ppid = _parse_stat(data)
    except (OSError, ValueError, IndexError):
        return None
    finally:
        os.close(fd)
    tags = _read_tags(name, dfd) if have_ptags else _EMPTY
    if tags is None:
        return None
    cgroup = None
    if have_cgroup:
        try:
            cgroup = _parse_cgroup(_read_at(name + "/cgroup", dfd))
        except OSError as e:
            if e.errno in _GONE:
                return None
    return _new_process_info(pid, ppid, uid, comm, tags, cgroup)


def _fd_dir_has_size(dfd: int) -> bool:
    """Whether ``stat`` of ``/proc/<pid>/fd`` gives the number of open files as its
    size (Linux 6.2 and later), asked of this process, which has some open."""
    try:
        return os.stat("self/fd", dir_fd=dfd).st_size > 0
    except OSError:
        return False


def _count_fds(name: str, dfd: int, fd_size: bool) -> int | None:
    """The number of open files of process ``name``; None when unreadable."""
    try:
        if fd_size:
            return os.stat(name + "/fd", dir_fd=dfd).st_size
        fd = os.open(name + "/fd", _RDONLY | os.O_DIRECTORY, dir_fd=dfd)
        try:
            return len(os.listdir(fd))
        finally:
            os.close(fd)
    except OSError:
        return None


def _scan_stats(
    name: str, dfd: int, have_ptags: bool, have_cgroup: bool, page: int, fd_size: bool
) -> ProcessInfo | None:
    """:func:`_scan_one` with the counters of ``stat`` and the open file count."""
    try:
        fd = os.open(name + "/stat", _RDONLY, dir_fd=dfd)
    except OSError:
        return None
    try:
        uid = os.fstat(fd).st_uid
        data = os.read(fd, 4096)
        lp = data.index(b" (")
        rp = data.rindex(b")")
        # from the state (field 3): ppid 4, minflt 10, majflt 12, utime 14, stime 15,
        # num_threads 20, starttime 22, rss 24 (pages); proc(5)
        f = data[rp + 2 :].split(b" ", 22)
        pid = int(data[:lp])
        comm = data[lp + 2 : rp].decode("utf-8", "surrogateescape")
        numbers = (int(f[1]), int(f[19]), int(f[11]), int(f[12]), int(f[7]), int(f[9]))
        rss, threads = int(f[21]) * page, int(f[17])
    except (OSError, ValueError, IndexError):
        return None
    finally:
        os.close(fd)
    tags = _read_tags(name, dfd) if have_ptags else _EMPTY
    if tags is None:
        return None
    cgroup = None
    if have_cgroup:
        try:
            cgroup = _parse_cgroup(_read_at(name + "/cgroup", dfd))
        except OSError as e:
            if e.errno in _GONE:
                return None
    ppid, starttime, utime, stime, minflt, majflt = numbers
    fds = _count_fds(name, dfd, fd_size)
    return _new_process_stats(
        pid, ppid, uid, comm, tags, cgroup, starttime, utime, stime, minflt, majflt, rss,
        threads, fds,
    )  # fmt: skip
