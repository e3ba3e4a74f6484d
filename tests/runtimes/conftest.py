"""Real container runtimes on the patched kernel, run from the VM's initial namespaces.

Run by ``tools/runtimes/run`` inside the VM (``make runtimes-short``: crun and runc,
the tests not marked slow; ``make runtimes``: all).  Without ptag support or root the
directory is skipped, unless ``PTAG_REQUIRE_KERNEL=1`` (how the VM harness runs it),
which stops the run instead: a run that silently skipped everything proves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from oci import OciRuntime

import ptag

HERE = Path(__file__).parent
REQUIRE_KERNEL = os.environ.get("PTAG_REQUIRE_KERNEL") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this directory's tests without ptags or root, or stop with status 3 under
    ``PTAG_REQUIRE_KERNEL=1``."""
    mine = [item for item in items if HERE in Path(str(item.path)).parents]
    if not mine:
        return
    why = None
    if not ptag.supported():
        why = f"the running kernel lacks ptag support (uname -r: {os.uname().release})"
    elif os.geteuid() != 0:
        why = "the runtime tests run as root"
    if why is None:
        return
    if REQUIRE_KERNEL:
        pytest.exit(f"PTAG_REQUIRE_KERNEL=1 but {why}; run them in the VM", returncode=3)
    for item in mine:
        item.add_marker(pytest.mark.skip(reason=f"{why}; these tests run in the VM"))


@pytest.fixture(scope="session", autouse=True)
def _pytest_process_stays_untagged() -> Iterator[None]:
    """Nothing here may tag the pytest process: every tagging runs in a child."""
    yield
    if ptag.supported():
        assert dict(ptag.tags()) == {}, "a test tagged the pytest process itself"


@pytest.fixture
def oci_runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OciRuntime]:
    """The runtime named by the indirect parameter (``crun``, ``runc``)."""
    rt = OciRuntime(request.param, tmp_path)
    yield rt
    rt.cleanup()
