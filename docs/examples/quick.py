import ptag

ptag.set("job.id", "build-1234")  # on this process; children inherit it
assert ptag.get("job.id") == "build-1234"

for tag in ptag.tags().values():  # oldest first, with the uid that set each
    print(tag.key, tag.value, tag.owner)  # job.id build-1234 0

for proc in ptag.process_iter():  # every process, in one pass over /proc
    if "job.id" in proc.tags:
        print(proc.pid, proc.comm, proc.tags["job.id"].value)
