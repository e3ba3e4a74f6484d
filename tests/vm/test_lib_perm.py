"""Who may tag whom, and who owns a tag: unprivileged cases through ``os.setuid`` in a
forked child (with PR_SET_DUMPABLE restored, as for any normal process)."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable
from typing import Any

import pytest

import ptag
from ptag import Tag

Child = Callable[..., Any]
NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (the VM runs as root)")


def set_not_dumpable() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE 0
        raise OSError(ctypes.get_errno(), "PR_SET_DUMPABLE")


def test_unprivileged_may_tag_itself_and_owner_is_its_uid(
    in_child: Child, unprivileged: Callable[[int], None]
) -> None:
    def body() -> dict[str, Tag]:
        unprivileged(NOBODY)
        ptag.set("u.self", "1")
        ptag.set("u.pid", "2", pid=os.getpid())
        return ptag.read_proc_tags()

    got = in_child(body)
    assert got == {"u.self": Tag("u.self", "1", NOBODY), "u.pid": Tag("u.pid", "2", NOBODY)}


def test_permission_matrix(
    in_child: Child, waiter: Any, unprivileged: Callable[[int], None]
) -> None:
    def as_nobody(root_pid: int) -> None:
        unprivileged(NOBODY)
        ptag.set("u.self", "1")
        for target in (root_pid, 1):  # another uid: EPERM
            with pytest.raises(ptag.TagPermissionError) as ei:
                ptag.set("x", "y", pid=target)
            e = ei.value
            assert isinstance(e, PermissionError)
            assert (e.errno, e.key, e.pid) == (errno.EPERM, "x", target)
            assert "not permitted" in str(e)
        with pytest.raises(ptag.TagPermissionError):  # exist_ok changes nothing here
            ptag.set("x", "y", pid=root_pid, exist_ok=True)
        # ... but reading another uid's process only needs seeing it
        assert ptag.get("root.tag", pid=root_pid) == "r"
        assert dict(ptag.tags(root_pid)) == {"root.tag": Tag("root.tag", "r", 0)}
        assert ptag.read_proc_tags(root_pid) == {"root.tag": Tag("root.tag", "r", 0)}
        # same uid, dumpable: allowed; the target inherited u.self
        with waiter() as peer:
            ptag.set("peer", "p", pid=peer.pid)
            assert peer.own_tags() == {"u.self": ["1", NOBODY], "peer": ["p", NOBODY]}
        # same uid, not dumpable: EPERM
        with waiter(set_not_dumpable) as nd:
            with pytest.raises(ptag.TagPermissionError):
                ptag.set("x", "y", pid=nd.pid)
            assert ptag.get("u.self", pid=nd.pid) == "1"
        assert list(ptag.tags()) == ["u.self"]

    def body() -> None:
        with waiter() as root_target:
            ptag.set("root.tag", "r", pid=root_target.pid)
            in_child(as_nobody, root_target.pid)
            assert root_target.own_tags() == {"root.tag": ["r", 0]}
        # root may tag a process of another uid; the owner is root
        with waiter(lambda: unprivileged(NOBODY)) as u:
            ptag.set("by.root", "1", pid=u.pid)
            assert u.own_tags() == {"by.root": ["1", 0]}
        # root cannot overwrite either
        with waiter() as t:
            ptag.set("k", "v", pid=t.pid)
            with pytest.raises(ptag.TagExistsError):
                ptag.set("k", "w", pid=t.pid)

    in_child(body)


def test_tags_survive_setuid(in_child: Child, unprivileged: Callable[[int], None]) -> None:
    def body() -> dict[str, Tag]:
        ptag.set("before", "root")
        unprivileged(NOBODY)
        ptag.set("after", "nobody")
        return ptag.read_proc_tags()

    got = in_child(body)
    assert got == {"before": Tag("before", "root", 0), "after": Tag("after", "nobody", NOBODY)}
