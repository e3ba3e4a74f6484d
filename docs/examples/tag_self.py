# Tag this process; every child inherits the tags, and nobody can change them.
import subprocess

import ptag

if not ptag.supported():
    raise SystemExit("this kernel lacks ptag support: boot the patched kernel")

ptag.set("job.id", "build-1234")
ptag.set("job.owner", "alice")

assert ptag.get("job.id") == "build-1234"
assert ptag.get("job.missing") is None  # a missing key gives the default
assert ptag.get("job.missing", "-") == "-"

for tag in ptag.tags().values():  # oldest first
    print(tag.key, tag.value, tag.owner)

# A child inherits the tags at fork and keeps them across execve.
child = subprocess.run(["cat", "/proc/self/ptags"], capture_output=True, text=True)
print(child.stdout, end="")
assert child.stdout.splitlines()[0].endswith(" job.id=build-1234")

# A tag can never be changed, not even by root...
try:
    ptag.set("job.id", "build-9999")
except ptag.TagExistsError as exc:
    print("refused:", exc)

# ...but setting the same value again can be made a no-op.
ptag.set("job.id", "build-1234", exist_ok=True)
