"""The exception classes and the errno → exception map."""

from __future__ import annotations

import errno
import pickle

import pytest

import ptag
from ptag import _errors

ABI_ERRNOS = [
    errno.EINVAL,
    errno.E2BIG,
    errno.ENOSPC,
    errno.EEXIST,
    errno.EPERM,
    errno.ESRCH,
    errno.EBADF,
    errno.EFAULT,
    errno.ENOENT,
    errno.ERANGE,
]


@pytest.mark.parametrize(
    ("err", "cls", "builtin"),
    [
        (errno.EEXIST, ptag.TagExistsError, FileExistsError),
        (errno.ENOSPC, ptag.TagLimitError, OSError),
        (errno.E2BIG, ptag.TagLimitError, OSError),
        (errno.EPERM, ptag.TagPermissionError, PermissionError),
        (errno.ESRCH, ptag.TagProcessLookupError, ProcessLookupError),
        (errno.ENOENT, ptag.TagNotFoundError, KeyError),
        (errno.EBADF, ptag.PtagError, OSError),
        (errno.EFAULT, ptag.PtagError, OSError),
        (errno.ERANGE, ptag.PtagError, OSError),
        (errno.EINVAL, ptag.PtagError, OSError),
        (errno.EIO, ptag.PtagError, OSError),
    ],
)
def test_errno_map(err: int, cls: type[ptag.PtagError], builtin: type[BaseException]) -> None:
    e = ptag.error_from_errno(err, key="k.x", pid=42)
    assert type(e) is cls
    assert isinstance(e, builtin)
    assert isinstance(e, ptag.PtagError)
    assert isinstance(e, OSError)
    assert (e.errno, e.key, e.pid) == (err, "k.x", 42)


@pytest.mark.parametrize("err", ABI_ERRNOS)
def test_messages_are_one_line_and_name_the_target(err: int) -> None:
    e = ptag.error_from_errno(err, key="k.x", pid=42)
    msg = str(e)
    assert msg and "\n" not in msg
    assert not msg.startswith("[Errno")
    if err in (errno.EEXIST, errno.ENOSPC, errno.EPERM, errno.ESRCH, errno.ENOENT):
        assert "42" in msg
    if err in (errno.EEXIST, errno.ENOSPC, errno.ENOENT, errno.E2BIG):
        assert "'k.x'" in msg


def test_message_without_key_or_pid() -> None:
    for err in ABI_ERRNOS:
        msg = str(ptag.error_from_errno(err))
        assert "None" not in msg


@pytest.mark.parametrize("err", ABI_ERRNOS)
def test_pickle_round_trip_keeps_attributes(err: int) -> None:
    e = ptag.error_from_errno(err, key="k", pid=7)
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is type(e)
    assert (e2.errno, e2.strerror, e2.key, e2.pid) == (e.errno, e.strerror, "k", 7)
    assert str(e2) == str(e)


def test_not_supported_error() -> None:
    e = ptag.NotSupportedError()
    assert isinstance(e, ptag.PtagError)
    assert e.errno == errno.EOPNOTSUPP
    msg = str(e)
    assert "lacks ptag support" in msg
    assert "make demo" in msg
    assert "docs/quickstart.rst" in msg
    assert "\n" not in msg
    e2 = pickle.loads(pickle.dumps(ptag.NotSupportedError(key="a", pid=3)))
    assert (type(e2), e2.key, e2.pid, str(e2)) == (ptag.NotSupportedError, "a", 3, msg)


def test_exists_with_other_value_shows_both() -> None:
    e = _errors.exists_with_other_value("k", "old", "new", 5)
    assert isinstance(e, ptag.TagExistsError)
    assert "'old'" in str(e) and "'new'" in str(e)


def test_catchable_as_builtins() -> None:
    with pytest.raises(FileExistsError):
        raise ptag.error_from_errno(errno.EEXIST)
    with pytest.raises(PermissionError):
        raise ptag.error_from_errno(errno.EPERM)
    with pytest.raises(ProcessLookupError):
        raise ptag.error_from_errno(errno.ESRCH)
    with pytest.raises(KeyError):
        raise ptag.error_from_errno(errno.ENOENT)
