"""On a kernel without ptag support every call raises NotSupportedError."""

from __future__ import annotations

import os

import pytest

import ptag

pytestmark = pytest.mark.skipif(ptag.supported(), reason="this kernel supports ptags")


def test_supported_is_false_and_cached() -> None:
    assert ptag.supported() is False
    assert ptag.supported() is False


@pytest.mark.parametrize(
    "call",
    [
        lambda: ptag.get("container.id"),
        lambda: ptag.get("container.id", "dflt"),
        lambda: ptag.get("container.id", pid=os.getpid()),
        lambda: ptag.get("container.id", pid=1),
        lambda: ptag.set("container.id", "x"),
        lambda: ptag.set("container.id", "x", exist_ok=True),
        lambda: ptag.set("container.id", "x", pid=os.getpid()),
        lambda: ptag.tags(),
        lambda: ptag.tags(os.getpid()),
        lambda: ptag.tags(pidfd=0),
        lambda: ptag.read_proc_tags(),
    ],
)
def test_calls_raise_not_supported(call: object, in_child: object) -> None:
    def run() -> None:
        with pytest.raises(ptag.NotSupportedError) as ei:
            call()  # type: ignore[operator]
        e = ei.value
        assert isinstance(e, ptag.PtagError)
        assert "make demo" in str(e) and "docs/quickstart.rst" in str(e)

    in_child(run)  # type: ignore[operator]


def test_validation_comes_first() -> None:
    with pytest.raises(ValueError):
        ptag.set("bad key", "v")
    with pytest.raises(ValueError):
        ptag.get("")
    with pytest.raises(TypeError):
        ptag.set("k", 5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"pid": 0}, ValueError),
        ({"pid": -3}, ValueError),
        ({"pidfd": -1}, ValueError),
        ({"pid": 1, "pidfd": 3}, ValueError),
        ({"pid": "1"}, TypeError),
        ({"pid": True}, TypeError),
        ({"pidfd": 1.0}, TypeError),
    ],
)
def test_target_arguments_are_checked_first(kwargs: dict[str, object], exc: type) -> None:
    with pytest.raises(exc):
        ptag.get("k", **kwargs)  # type: ignore[call-overload]
    with pytest.raises(exc):
        ptag.set("k", "v", **kwargs)  # type: ignore[arg-type]
    if "pid" in kwargs and "pidfd" not in kwargs:
        with pytest.raises(exc):
            ptag.tags(kwargs["pid"])  # type: ignore[arg-type]
