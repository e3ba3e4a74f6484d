# Make an OCI bundle for docs/examples: a static busybox root file system (every
# applet linked, as busybox --install -s does) and the config.json that `crun spec`
# writes, with no terminal, the command given and the annotations given.  Used by
# recipes-runtime.console.
# check: helper
# usage: runtime_bundle.py DIR [--annotation KEY=VALUE]... -- COMMAND...
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

bundle = Path(sys.argv[1])
args = sys.argv[2:]
split = args.index("--")
options, command = args[:split], args[split + 1 :]
rootfs = bundle / "rootfs"
(rootfs / "bin").mkdir(parents=True)
for d in ("proc", "sys", "dev", "tmp", "etc"):
    (rootfs / d).mkdir()
shutil.copy("/bin/busybox", rootfs / "bin" / "busybox")
applets = subprocess.run(["busybox", "--list-full"], capture_output=True, text=True).stdout
for rel in applets.split():
    link = rootfs / rel
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("/bin/busybox", link)
subprocess.run(["crun", "spec"], cwd=bundle, check=True)
config = json.loads((bundle / "config.json").read_text())
config["process"]["terminal"] = False
config["process"]["args"] = command
config["root"]["readonly"] = False
annotations = config.setdefault("annotations", {})
for i in range(0, len(options), 2):
    assert options[i] == "--annotation", options[i]
    key, _, value = options[i + 1].partition("=")
    annotations[key] = value
(bundle / "config.json").write_text(json.dumps(config, indent=2))
