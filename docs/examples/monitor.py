# A monitoring agent: which container is each process in?  One pass over /proc,
# trusting only tags set by root (owner 0): anyone can tag their own processes.
# check: run under ptag-exec -t container.id=web -t container.name=shop --
# check: expect web         shop          1
from __future__ import annotations

from collections import Counter

import ptag
from ptag import keys

TRUSTED_OWNERS = {0}


def container_of(proc: ptag.ProcessInfo) -> tuple[str, str] | None:
    tag = proc.tags.get(keys.CONTAINER_ID)
    if tag is None or tag.owner not in TRUSTED_OWNERS:
        return None
    name = proc.tags.get(keys.CONTAINER_NAME)
    return tag.value, name.value if name is not None else "-"


counts = Counter(c for p in ptag.process_iter() if (c := container_of(p)) is not None)
print(f"{'CONTAINER':<12}{'NAME':<14}PROCESSES")
for (cid, name), n in sorted(counts.items()):
    print(f"{cid:<12}{name:<14}{n}")
