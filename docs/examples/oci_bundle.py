# Turn the config.json that `crun spec` writes into a bundle for docs/examples:
# no terminal, the command given, and the hooks of config-hooks.json (with the
# hook's path pointing at the ptag installed here).  Used by oci-crun.console.
# check: helper
# usage: oci_bundle.py CONFIG.JSON [--annotation KEY=VALUE]... -- COMMAND...
import json
import shutil
import sys
from pathlib import Path

config_path = Path(sys.argv[1])
args = sys.argv[2:]
split = args.index("--")
options, command = args[:split], args[split + 1 :]
config = json.loads(config_path.read_text())
config["process"]["terminal"] = False
config["process"]["args"] = command
hooks = json.loads((Path(__file__).parent / "config-hooks.json").read_text())["hooks"]
for hook_list in hooks.values():
    for hook in hook_list:
        hook["path"] = shutil.which("ptag") or hook["path"]
config["hooks"] = hooks
annotations = config.setdefault("annotations", {})
for i in range(0, len(options), 2):
    assert options[i] == "--annotation", options[i]
    key, _, value = options[i + 1].partition("=")
    annotations[key] = value
config_path.write_text(json.dumps(config, indent=2))
