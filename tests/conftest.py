"""Shared test helpers: run a function in a forked child, so that the pytest process
itself never carries a tag (tags can never be removed)."""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from typing import Any, Callable, TypeVar

import pytest

T = TypeVar("T")


class ChildError(RuntimeError):
    """The forked child died or sent back something that could not be unpickled."""


def run_in_child(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` in a forked child and return its result.

    The return value, or the exception raised (with the child's traceback attached as
    a note), travels back pickled through a pipe and is re-raised here.  The child
    always leaves through ``os._exit``, so no pytest machinery runs twice.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(r)
            try:
                result: tuple[Any, ...] = ("ok", fn(*args, **kwargs))
            except BaseException as e:
                result = ("err", e, traceback.format_exc())
            try:
                data = pickle.dumps(result)
            except Exception as e:
                data = pickle.dumps(
                    ("err", ChildError(f"unpicklable child result {result!r}: {e!r}"), "")
                )
            with os.fdopen(w, "wb") as f:
                f.write(data)
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise ChildError(f"forked child died without a result (wait status {status:#x})")
    result = pickle.loads(data)
    if result[0] == "ok":
        return result[1]  # type: ignore[no-any-return]
    exc: BaseException = result[1]
    if result[2] and hasattr(exc, "add_note"):
        exc.add_note("--- in the forked child ---\n" + result[2])
    raise exc


@pytest.fixture(scope="session")
def in_child() -> Callable[..., Any]:
    """The :func:`run_in_child` helper, as a fixture (session-scoped, so it is safe
    inside hypothesis tests)."""
    return run_in_child


DATA_DIR = os.path.join(os.path.dirname(__file__), "data")


@pytest.fixture(scope="session")
def data_dir() -> str:
    """The directory of sample /proc files."""
    return DATA_DIR
