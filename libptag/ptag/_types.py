"""The immutable records the public API returns.

They behave like frozen dataclasses (keyword or positional construction, field
equality, hashing, a ``Name(field=...)`` repr, ``AttributeError`` on assignment,
pickling, weak references, positional ``match`` patterns) but are written out by
hand, and are not dataclasses (``dataclasses.asdict`` and friends do not apply):
importing :mod:`dataclasses` pulls in :mod:`inspect` and a dozen other modules,
which is most of ``import ptag``'s cost where module loading is slow.
"""

from __future__ import annotations

from types import MappingProxyType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import NoReturn

__all__ = ["ProcessInfo", "ProcessStats", "Tag"]


class _Frozen:
    """Slotted, immutable, compared and hashed by its fields.

    A subclass names its fields in ``_FIELDS``, in the order of its constructor's
    parameters, and sets ``__slots__ = _FIELDS``.
    """

    _FIELDS: tuple[str, ...] = ()
    __slots__ = ("__weakref__",)

    def _init(self, *values: object) -> None:
        """Set the fields, in ``_FIELDS`` order: for ``__init__``."""
        if len(values) != len(self._FIELDS):  # zip(strict=True) needs Python 3.10
            raise TypeError(f"{type(self).__name__} has {len(self._FIELDS)} fields")
        for name, value in zip(self._FIELDS, values):
            object.__setattr__(self, name, value)

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"cannot assign to field '{name}' of {type(self).__name__}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"cannot delete field '{name}' of {type(self).__name__}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, _Frozen)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={v!r}" for n, v in zip(self._FIELDS, self._fields()))
        return f"{type(self).__name__}({args})"

    def __reduce__(self) -> tuple[Callable[..., _Frozen], tuple[object, ...]]:
        return (type(self), self._fields())


class Tag(_Frozen):
    """One process tag: ``key=value``, set by the user ``owner``.

    ``owner`` is the real uid of whoever set the tag, as seen from the reader's
    user namespace (65534, the overflow uid, when it is not mapped there).  Decide
    whether to trust a tag by its owner.
    """

    _FIELDS = ("key", "value", "owner")
    __slots__ = _FIELDS
    __match_args__ = _FIELDS
    key: str
    value: str
    owner: int

    def __init__(self, key: str, value: str, owner: int) -> None:
        self._init(key, value, owner)


class ProcessInfo(_Frozen):
    """A snapshot of one process, as :func:`ptag.process_iter` yields it.

    ``uid`` is the owner of ``/proc/<pid>`` (the effective uid; procps reports the
    same, and like procps it shows 0 for a non-dumpable process).  ``comm`` is the
    kernel's command name (at most 15 bytes, surrogateescape-decoded).  ``tags`` is
    empty when the kernel lacks ptags or the file was unreadable; ``cgroup`` is the
    cgroup v2 path (the first line's path without a v2 line) or ``None`` when
    unreadable or not read (``process_iter(cgroup=False)``).  A record compares,
    hashes and pickles by its fields (``tags`` by its items), and ``tags`` read
    from /proc stays a read-only mapping through a pickle round trip.
    """

    _FIELDS = ("pid", "ppid", "uid", "comm", "tags", "cgroup")
    __slots__ = _FIELDS
    __match_args__ = _FIELDS
    pid: int
    ppid: int
    uid: int
    comm: str
    tags: Mapping[str, Tag]
    cgroup: str | None

    def __init__(
        self,
        pid: int,
        ppid: int,
        uid: int,
        comm: str,
        tags: Mapping[str, Tag],
        cgroup: str | None,
    ) -> None:
        self._init(pid, ppid, uid, comm, tags, cgroup)

    # ``tags`` is usually a read-only view (MappingProxyType), which is neither
    # hashable nor picklable: hash its items, and pickle the dict behind it.
    def __hash__(self) -> int:
        return hash(
            (self.pid, self.ppid, self.uid, self.comm, frozenset(self.tags.items()), self.cgroup)
        )

    def __reduce__(self) -> tuple[Callable[..., _Frozen], tuple[object, ...]]:
        if type(self.tags) is MappingProxyType:
            fields = (self.pid, self.ppid, self.uid, self.comm, dict(self.tags), self.cgroup)
            return (_read_only_process_info, fields)
        return super().__reduce__()


def _read_only_process_info(
    pid: int, ppid: int, uid: int, comm: str, tags: dict[str, Tag], cgroup: str | None
) -> ProcessInfo:
    """Unpickles a ProcessInfo whose ``tags`` was a read-only view, as a view again."""
    return ProcessInfo(pid, ppid, uid, comm, MappingProxyType(tags), cgroup)


def _fast_constructors() -> tuple[
    Callable[[int, int, int, str, Mapping[str, Tag], str | None], ProcessInfo],
    Callable[[str, str, int], Tag],
]:
    """Constructors for the /proc scan, which builds thousands of records: they fill
    the slots directly, skipping ``__init__`` and ``_init``'s generic loop (twice as
    fast).  The records are the same as the public constructors make."""
    new = object.__new__
    pid_, ppid_, uid_, comm_, tags_, cgroup_ = (
        getattr(ProcessInfo, name).__set__ for name in ProcessInfo._FIELDS
    )
    key_, value_, owner_ = (getattr(Tag, name).__set__ for name in Tag._FIELDS)

    def process_info(
        pid: int, ppid: int, uid: int, comm: str, tags: Mapping[str, Tag], cgroup: str | None
    ) -> ProcessInfo:
        self = new(ProcessInfo)
        pid_(self, pid)
        ppid_(self, ppid)
        uid_(self, uid)
        comm_(self, comm)
        tags_(self, tags)
        cgroup_(self, cgroup)
        return self

    def tag(key: str, value: str, owner: int) -> Tag:
        self = new(Tag)
        key_(self, key)
        value_(self, value)
        owner_(self, owner)
        return self

    return process_info, tag


_new_process_info, _new_tag = _fast_constructors()


class ProcessStats(ProcessInfo):
    """A :class:`ProcessInfo` with the resource counters of ``/proc/<pid>/stat`` and
    the open file count, as ``process_iter(stats=True)`` yields it.

    ``starttime`` is when the process started, in clock ticks after boot (with
    ``pid`` it names one process for ever: a reused PID has another start time).
    ``utime`` and ``stime`` are the CPU time spent in user and kernel mode, in clock
    ticks (``os.sysconf("SC_CLK_TCK")`` per second), every thread's, the exited ones'
    too; ``minflt`` and ``majflt`` count page faults.  These four never decrease
    while the process lives.  ``rss`` is the resident set size in bytes, ``threads``
    the number of threads, and ``fds`` the number of open file descriptors (the
    size of ``/proc/<pid>/fd`` since Linux 6.2, which anyone may see; before, the
    directory is listed, and ``fds`` is ``None`` where that is not allowed: another
    user's process, without root).
    """

    _FIELDS = (  # type: ignore[assignment]  # more fields than the base has
        *ProcessInfo._FIELDS,
        "starttime",
        "utime",
        "stime",
        "minflt",
        "majflt",
        "rss",
        "threads",
        "fds",
    )
    __slots__ = _FIELDS[len(ProcessInfo._FIELDS) :]
    __match_args__ = _FIELDS
    starttime: int
    utime: int
    stime: int
    minflt: int
    majflt: int
    rss: int
    threads: int
    fds: int | None

    def __init__(
        self,
        pid: int,
        ppid: int,
        uid: int,
        comm: str,
        tags: Mapping[str, Tag],
        cgroup: str | None,
        starttime: int,
        utime: int,
        stime: int,
        minflt: int,
        majflt: int,
        rss: int,
        threads: int,
        fds: int | None,
    ) -> None:
        self._init(
            pid, ppid, uid, comm, tags, cgroup, starttime, utime, stime, minflt, majflt, rss,
            threads, fds,
        )  # fmt: skip

    def __reduce__(self) -> tuple[Callable[..., _Frozen], tuple[object, ...]]:
        fields = self._fields()
        if type(self.tags) is MappingProxyType:
            return (_read_only_process_stats, (*fields[:4], dict(self.tags), *fields[5:]))
        return (type(self), fields)


def _read_only_process_stats(*fields: object) -> ProcessStats:
    """Unpickles a ProcessStats whose ``tags`` was a read-only view, as a view again."""
    values = list(fields)
    values[4] = MappingProxyType(values[4])  # type: ignore[arg-type]
    return ProcessStats(*values)  # type: ignore[arg-type]


def _stats_constructor() -> Callable[..., ProcessStats]:
    """The scan's constructor for :class:`ProcessStats`: fills the slots directly,
    as :func:`_fast_constructors` does for the other records."""
    new = object.__new__
    setters = tuple(getattr(ProcessStats, name).__set__ for name in ProcessStats._FIELDS)
    pairs = tuple(enumerate(setters))

    def process_stats(*values: object) -> ProcessStats:
        self = new(ProcessStats)
        for i, put in pairs:
            put(self, values[i])
        return self

    return process_stats


_new_process_stats = _stats_constructor()
