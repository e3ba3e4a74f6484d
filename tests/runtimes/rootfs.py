"""A busybox root file system for the runtime tests, built from Debian's busybox-static.

Nothing is pulled from a registry: :func:`build_rootfs` copies the host's static
``/bin/busybox`` into a directory and links every applet to it the way
``busybox --install -s`` does (absolute symlinks to ``/bin/busybox``, at the paths
``busybox --list-full`` names), plus the few files a container needs (``/etc/passwd``,
``/etc/group``, empty ``/proc``, ``/sys``, ``/dev``, ``/tmp``).  :func:`make_tarball`
packs such a directory into an uncompressed tar with root-owned entries, the input
``podman import`` and ``docker import`` take.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path

#: Where Debian's busybox-static installs the binary.
DEFAULT_BUSYBOX = "/bin/busybox"

#: Empty directories every container root file system gets (mode, path).
DIRS = (
    (0o755, "bin"),
    (0o755, "sbin"),
    (0o755, "usr/bin"),
    (0o755, "usr/sbin"),
    (0o755, "etc"),
    (0o755, "proc"),
    (0o755, "sys"),
    (0o755, "dev"),
    (0o755, "run"),
    (0o700, "root"),
    (0o1777, "tmp"),
)

FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/hostname": "busybox\n",
}

_PT_INTERP = 3


class RootfsError(RuntimeError):
    """The root file system cannot be built (no static busybox, a bad destination)."""


def is_static_elf(path: str) -> bool:
    """True when *path* is an ELF executable without a program interpreter (static).

    A dynamically linked busybox would start on the host but not in a root file
    system that has no libc, with an error far from the cause; this catches it early.
    """
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF":
            return False
        bits64 = head[4] == 2
        order = "<" if head[5] == 1 else ">"
        if bits64:
            phoff, phentsize, phnum = (
                struct.unpack_from(order + "Q", head, 32)[0],
                *struct.unpack_from(order + "HH", head, 54),
            )
        else:
            phoff, phentsize, phnum = (
                struct.unpack_from(order + "I", head, 28)[0],
                *struct.unpack_from(order + "HH", head, 42),
            )
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        (p_type,) = struct.unpack_from(order + "I", table, i * phentsize)
        if p_type == _PT_INTERP:
            return False
    return True


def applets(busybox: str = DEFAULT_BUSYBOX) -> list[str]:
    """The applets' install paths, relative to the root (``bin/sh``, ``usr/bin/env``...)."""
    out = subprocess.run(
        [busybox, "--list-full"], check=True, capture_output=True, text=True
    ).stdout
    return sorted({line.strip().lstrip("/") for line in out.splitlines() if line.strip()})


def build_rootfs(dest: str | os.PathLike[str], busybox: str = DEFAULT_BUSYBOX) -> Path:
    """Build a busybox root file system in the directory *dest* and return its path.

    *dest* must not exist or be an empty directory.  The result has ``/bin/busybox``
    (a copy of the static *busybox*), a symlink to it for every applet (``/bin/sh``,
    ``/bin/sleep``, ``/bin/cat``...), ``/etc/passwd`` and ``/etc/group`` with root,
    and the empty mount points a runtime needs.  Raises :class:`RootfsError` when
    *busybox* is missing or not statically linked.
    """
    root = Path(dest)
    real = os.path.realpath(busybox)
    if not os.path.isfile(real):
        raise RootfsError(f"{busybox} not found: install Debian's busybox-static")
    if not is_static_elf(real):
        raise RootfsError(f"{busybox} is not statically linked: install busybox-static")
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise RootfsError(f"{root} is not empty")
    for mode, rel in DIRS:
        d = root / rel
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(mode)
    shutil.copyfile(real, root / "bin" / "busybox")
    (root / "bin" / "busybox").chmod(0o755)
    for rel in applets(real):
        link = root / rel
        if link.name == "busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    for rel, text in FILES.items():
        (root / rel).write_text(text)
        (root / rel).chmod(0o644)
    return root


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def make_tarball(rootfs: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Pack the root file system *rootfs* into the uncompressed tar *dest*; its path.

    Entries are relative (``bin/busybox``, not ``./bin/busybox`` or an absolute
    path), owned by root, symlinks kept as symlinks: what ``podman import`` and
    ``docker import`` expect.
    """
    root = Path(rootfs)
    out = Path(dest)
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(root.iterdir()):
            tar.add(entry, arcname=entry.name, filter=_root_owned)
    return out
