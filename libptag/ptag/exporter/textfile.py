"""Writing a file for node_exporter's textfile collector, atomically.

node_exporter reads every ``*.prom`` file in its directory whenever it is scraped;
a reader must see the old file or the new one, never half of one.  So the data
goes to a temporary file in the same directory (a rename is atomic only within
one file system), named ``.NAME.XXXXXX.tmp`` so that the collector's ``*.prom``
pattern never matches it, is flushed to disk, made world-readable, and renamed
over ``PATH``.  On any failure the temporary file is removed and ``PATH`` is left
as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

__all__ = ["write_atomically"]


def write_atomically(path: str, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` in one step (see the module's docstring).
    Raises OSError (the target left untouched) when the directory is not writable,
    the disk is full, and so on."""
    directory, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
