# A runtime's pattern: start the workload, tag it by pidfd before it runs, then
# let it go.  Everything the workload starts inherits the tags.
import os

import ptag
from ptag import keys

ready_r, ready_w = os.pipe()
pid = os.fork()
if pid == 0:  # the workload: wait until it is tagged, then exec
    os.close(ready_w)
    os.read(ready_r, 1)
    os.execvp("sh", ["sh", "-c", "cat /proc/self/ptags"])

os.close(ready_r)
pidfd = os.pidfd_open(pid)  # a pidfd: the tag cannot land on a reused pid
try:
    ptag.set(keys.CONTAINER_ID, "4f2a9c0d", pidfd=pidfd)
    ptag.set(keys.CONTAINER_RUNTIME, "example", pidfd=pidfd)
    print(dict(ptag.tags(pidfd=pidfd)))
finally:
    os.close(pidfd)
os.write(ready_w, b"go")  # only now does the workload run
os.close(ready_w)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0
