# Look up one process, e.g. the sender of a log line or the owner of a socket.
# check: run under ptag-exec -t container.id=web --
# check: expect container web (tagged by uid 0)
import os

import ptag


def describe(pid: int) -> str:
    try:
        tags = ptag.read_proc_tags(pid)  # /proc/<pid>/ptags: no permission needed
    except ProcessLookupError:
        return f"{pid}: gone"
    cid = tags.get("container.id")
    if cid is None:
        return f"{pid}: not in a tagged container"
    return f"{pid}: container {cid.value} (tagged by uid {cid.owner})"


print(describe(os.getpid()))
print(describe(1))
