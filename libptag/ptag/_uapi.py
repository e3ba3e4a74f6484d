"""The uapi constants, without :mod:`ctypes`.

They mirror ``include/uapi/linux/prctl.h`` and ``include/uapi/linux/ptag.h``.  They
live apart from :mod:`ptag._abi` so that ``import ptag`` (and a scan of /proc) does
not load ctypes: :mod:`ptag._abi` is imported on the first system call.
"""

from __future__ import annotations

__all__ = [
    "ARGS_SIZE_VER0",
    "KEY_MAX",
    "LIST_MAX",
    "MAX_TAGS",
    "PR_GET_PTAG",
    "PR_SET_PTAG",
    "PTAG_F_PIDFD",
    "VALUE_MAX",
]

# include/uapi/linux/prctl.h
PR_SET_PTAG = 82
PR_GET_PTAG = 83
# include/uapi/linux/ptag.h
MAX_TAGS = 32
KEY_MAX = 64
VALUE_MAX = 256
PTAG_F_PIDFD = 1 << 0
ARGS_SIZE_VER0 = 40

# Largest key list the kernel can return: MAX_TAGS keys, each NUL-terminated.
LIST_MAX = MAX_TAGS * (KEY_MAX + 1)
