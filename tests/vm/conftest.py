"""VM-only tests: they need the patched kernel, and run as root inside the VM.

Without ptag support the whole directory is skipped with a reason, unless
``PTAG_REQUIRE_KERNEL=1`` (how the VM harness runs it), which stops the run with
an error instead: a VM run that silently skipped everything would prove nothing.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ptag

HERE = Path(__file__).parent
REQUIRE_KERNEL = os.environ.get("PTAG_REQUIRE_KERNEL") == "1"
SKIP_REASON = (
    "the running kernel lacks ptag support; these tests run in the VM on the patched "
    "kernel (set PTAG_REQUIRE_KERNEL=1 to make this an error)"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every test of this directory when the kernel lacks ptags, or stop the run
    with exit status 3 under ``PTAG_REQUIRE_KERNEL=1``."""
    if ptag.supported():
        return
    mine = [item for item in items if HERE in Path(str(item.path)).parents]
    if mine and REQUIRE_KERNEL:
        pytest.exit(
            "PTAG_REQUIRE_KERNEL=1 but the running kernel lacks ptag support "
            f"(uname -r: {os.uname().release}); boot the patched kernel",
            returncode=3,
        )
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in mine:
        item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _pytest_process_stays_untagged() -> Iterator[None]:
    """Every tag-setting test must run in a forked child: check nothing leaked."""
    yield
    if ptag.supported():
        assert dict(ptag.tags()) == {}, "a test tagged the pytest process itself"


class Waiter:
    """A forked child that runs ``setup`` (e.g. dropping privileges), reports ready,
    then answers queries about its own tags until it is killed.  A tagging target."""

    def __init__(self, setup: Callable[[], object] | None = None) -> None:
        cmd_r, self._cmd = os.pipe()
        res_r, res_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(self._cmd)
                os.close(res_r)
                if setup is not None:
                    setup()
                os.write(res_w, b"ready\n")
                while os.read(cmd_r, 1):
                    mine = {k: [t.value, t.owner] for k, t in ptag.tags().items()}
                    os.write(res_w, json.dumps(mine).encode() + b"\n")
            finally:
                os._exit(0)
        os.close(cmd_r)
        os.close(res_w)
        self.pid = pid
        self._res = os.fdopen(res_r, "rb")
        line = self._res.readline()
        if line != b"ready\n":
            self.close()
            raise RuntimeError("waiter child failed during setup")

    def own_tags(self) -> dict[str, list[Any]]:
        """The tags as the child itself sees them (``ptag.tags()`` run in it)."""
        os.write(self._cmd, b"?")
        return json.loads(self._res.readline())  # type: ignore[no-any-return]

    def close(self) -> None:
        """Kill and reap the child."""
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = 0
            os.close(self._cmd)
            self._res.close()

    def __enter__(self) -> Waiter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture(scope="session")
def waiter() -> type[Waiter]:
    """The :class:`Waiter` class: ``with waiter(setup) as w: ... w.pid ...``."""
    return Waiter


def drop_privileges(uid: int = 65534) -> None:
    """Become ``uid`` (and gid) for good, then make the process dumpable again, as a
    normal unprivileged process is (setuid clears the dumpable flag)."""
    import ctypes

    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 1, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
        raise OSError(ctypes.get_errno(), "PR_SET_DUMPABLE")


@pytest.fixture(scope="session")
def unprivileged() -> Callable[[int], None]:
    """:func:`drop_privileges`, as a fixture."""
    return drop_privileges
