"""Lines for an OCI runtime's ``--log`` file, in runc's formats.

Docker (through containerd's shim) and Podman show the last ``error`` line of that
file when the runtime fails, so ``ptag-runtime`` writes its own failure there in the
format the runtime was asked for: ``--log-format json`` gives logrus's JSON lines,
``{"level":"error","msg":"...","time":"2026-12-01T10:30:00Z"}``; anything else its
text lines, ``time="2026-12-01T10:30:00Z" level=error msg="..."``.
"""

from __future__ import annotations

import json
import os
import time

__all__ = ["append", "line", "timestamp"]


def timestamp(now: float) -> str:
    """*now* (seconds since the epoch) in RFC 3339 local time, as logrus writes it
    (``2026-12-01T10:30:00Z``, or ``...+01:00`` off UTC)."""
    tm = time.localtime(now)
    off = tm.tm_gmtoff or 0
    if off == 0:
        zone = "Z"
    else:
        sign = "+" if off > 0 else "-"
        hours, minutes = divmod(abs(off) // 60, 60)
        zone = f"{sign}{hours:02d}:{minutes:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", tm) + zone


def line(level: str, msg: str, log_format: str | None, now: float) -> str:
    """One log line (with its newline) for *msg* at *level* (``error``, ``warning``)."""
    stamp = timestamp(now)
    if log_format == "json":
        doc = {"level": level, "msg": msg, "time": stamp}
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n"
    return f'time="{stamp}" level={level} msg={json.dumps(msg, ensure_ascii=False)}\n'


def append(path: str, text: str) -> OSError | None:
    """Append *text* to the file *path* (created 0644 if missing) in one write; the
    error when that fails (the caller has already said it on stderr)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        return exc
    try:
        os.write(fd, text.encode("utf-8", "backslashreplace"))
    except OSError as exc:
        return exc
    finally:
        os.close(fd)
    return None
