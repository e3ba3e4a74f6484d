"""A patched kernel built with CONFIG_PTAG=n behaves like a kernel without the series.

Run by ``make check`` inside the VM on the ``noptag`` kernel
(``tools/vm run --kernel noptag -- tools/vm-tests noptag``): the prctl options are
unknown (``EINVAL``, as for any unknown option), ``/proc/<pid>/ptags`` does not
exist, and the library and tools say the kernel lacks ptag support.
"""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
import sys

import ptag
from ptag import _abi

libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int) -> tuple[int, int]:
    args = _abi.PtagArgs()
    ret = libc.prctl(option, ctypes.c_ulong(ctypes.addressof(args)), ctypes.c_ulong(40), 0, 0)
    return ret, ctypes.get_errno()


def test_prctl_options_are_unknown() -> None:
    assert _prctl(_abi.PR_SET_PTAG) == (-1, errno.EINVAL)
    assert _prctl(_abi.PR_GET_PTAG) == (-1, errno.EINVAL)


def test_no_proc_file() -> None:
    assert not os.path.exists("/proc/self/ptags")
    assert not os.path.exists(f"/proc/self/task/{os.getpid()}/ptags")
    assert "ptags" not in os.listdir("/proc/self")


def test_library_reports_no_support() -> None:
    assert ptag.supported() is False


def test_tools_report_no_support() -> None:
    exe = subprocess.run(
        [sys.executable, "-m", "ptag.cli.exec", "-t", "a=b", "--", "true"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert exe.returncode == 125
    assert "ptag" in exe.stderr.lower() and "Traceback" not in exe.stderr
    get = subprocess.run(
        [sys.executable, "-m", "ptag.cli.main", "get"], capture_output=True, text=True, check=False
    )
    assert get.returncode == 1
    assert len(get.stderr.strip().splitlines()) == 1
