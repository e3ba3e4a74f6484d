"""OCI bundles for the runtime tests: a busybox root file system (rootfs.py) and the
``config.json`` the real runtime's own ``spec`` command writes, adjusted.

:func:`make_bundle` runs ``RUNTIME spec`` (runc's or crun's default configuration),
then sets the command, no terminal, a writable root, and the annotations.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import rootfs as _rootfs  # tests/runtimes is on sys.path (pytest rootdir-relative import)


def make_bundle(
    dest: str | os.PathLike[str],
    args: Sequence[str],
    *,
    annotations: Mapping[str, str] | None = None,
    spec_runtime: str = "runc",
    readonly: bool = False,
) -> Path:
    """A bundle in the new directory *dest*: ``rootfs/`` (busybox) and ``config.json``
    from ``SPEC_RUNTIME spec``, running *args* without a terminal, with *annotations*.

    The root is writable unless *readonly* (a test can leave a file there to show
    that a command ran).  Returns the bundle's path.
    """
    bundle = Path(dest)
    bundle.mkdir(parents=True)
    _rootfs.build_rootfs(bundle / "rootfs")
    subprocess.run([spec_runtime, "spec"], cwd=bundle, check=True, capture_output=True)
    path = bundle / "config.json"
    config = json.loads(path.read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = list(args)
    config["root"] = {"path": "rootfs", "readonly": readonly}
    if annotations:
        config["annotations"] = dict(annotations)
    path.write_text(json.dumps(config, indent=2))
    return bundle


def set_annotations(bundle: str | os.PathLike[str], annotations: Mapping[str, str]) -> None:
    """Replace the annotations of the bundle's ``config.json``."""
    path = Path(bundle) / "config.json"
    config = json.loads(path.read_text())
    config["annotations"] = dict(annotations)
    path.write_text(json.dumps(config, indent=2))
