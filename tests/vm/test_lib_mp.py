"""multiprocessing children, with the fork and the spawn start methods, inherit tags."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

import pytest

import ptag
from ptag import Tag

Child = Callable[..., Any]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_children_inherit(in_child: Child, method: str) -> None:
    def body() -> tuple[dict[str, Tag], str | None, int | None]:
        ptag.set("mp.method", method)
        ctx: Any = multiprocessing.get_context(method)
        with ctx.Pool(2) as pool:
            got = pool.apply(ptag.read_proc_tags, ("self",))
            value = pool.apply(ptag.get, ("mp.method",))
        p = ctx.Process(target=ptag.set, args=("child.only", "c"))
        p.start()
        p.join(60)
        assert ptag.get("child.only") is None  # a child's tag never flows up
        return got, value, p.exitcode

    got, value, exitcode = in_child(body)
    assert got == {"mp.method": Tag("mp.method", method, 0)}
    assert value == method
    assert exitcode == 0
