"""The package surface, the fork helper, and what `import ptag` costs."""

from __future__ import annotations

import errno
import glob
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ptag
from ptag import keys

PUBLIC = {
    "PR_SET_PTAG",
    "PR_GET_PTAG",
    "MAX_TAGS",
    "KEY_MAX",
    "VALUE_MAX",
    "supported",
    "set",
    "get",
    "tags",
    "Tag",
    "ProcessInfo",
    "read_proc_tags",
    "parse_proc_tags",
    "process_iter",
    "validate_key",
    "validate_value",
    "error_from_errno",
    "PtagError",
    "TagExistsError",
    "TagLimitError",
    "TagPermissionError",
    "TagProcessLookupError",
    "TagNotFoundError",
    "NotSupportedError",
    "keys",
}


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (this one), failing on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )


def test_public_names() -> None:
    assert set(ptag.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(ptag, name) is not None


def test_py_typed_is_shipped() -> None:
    assert os.path.exists(os.path.join(os.path.dirname(ptag.__file__), "py.typed"))


def test_well_known_keys_are_valid_and_distinct() -> None:
    assert len(set(keys.WELL_KNOWN)) == len(keys.WELL_KNOWN) == 6
    for k in keys.WELL_KNOWN:
        ptag.validate_key(k)
    assert keys.CONTAINER_ID == "container.id"
    assert keys.K8S_POD_UID == "k8s.pod.uid"


def test_import_cost_is_light() -> None:
    """Measure (print, never assert) the import time; assert only that `import ptag`
    pulls in no heavy module that it does not need.  tools/perf/lib_bench.py is the
    benchmark."""
    code = (
        "import sys, time, json; before = set(sys.modules); t = time.perf_counter();"
        "import ptag; dt = time.perf_counter() - t;"
        "print(json.dumps({'ms': dt * 1000, 'new': sorted(set(sys.modules) - before)}))"
    )
    out = run_python(code).stdout
    res = json.loads(out)
    print(f"import ptag: {res['ms']:.1f} ms")
    new = set(res["new"])
    heavy = ("typing", "dataclasses", "inspect", "threading", "subprocess", "asyncio")
    for name in (*heavy, "ctypes", "ptag._abi", "logging"):
        assert name not in new, f"import ptag imports {name}"
    assert "ptag.cli" not in new


def test_ctypes_is_loaded_by_the_first_system_call() -> None:
    """``ptag._abi`` (ctypes) is imported by the first system call, not by ``import
    ptag`` nor by reading /proc; after it the API calls ``_abi`` directly."""
    code = (
        "import sys, ptag\n"
        "from ptag import _api\n"
        "list(ptag.process_iter())\n"
        "try:\n"
        "    ptag.read_proc_tags()\n"
        "except ptag.NotSupportedError:\n"
        "    pass\n"
        "assert 'ctypes' not in sys.modules\n"
        "print(ptag.KEY_MAX, ptag.MAX_TAGS, ptag.VALUE_MAX, ptag.PR_SET_PTAG, ptag.PR_GET_PTAG)\n"
        "ptag.supported()\n"
        "from ptag import _abi\n"
        "assert (_api._get_tag, _api._set_tag, _api._list_tags) == "
        "(_abi.get_tag, _abi.set_tag, _abi.list_tags)\n"
        "assert 'ctypes' in sys.modules\n"
    )
    out = run_python(code).stdout
    assert out.split() == ["64", "32", "256", "82", "83"]


def test_fork_during_the_first_call_does_not_hang_the_child() -> None:
    """A fork while another thread imports ``ptag._abi`` (the first system call) must
    not leave the child blocked on importlib's lock for that module: the fork waits
    for the import.  The import is slowed down so the fork lands inside it."""
    code = (
        "import os, sys, threading, time, signal\n"
        "class Slow:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'ctypes':\n"
        "            time.sleep(0.5)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Slow())\n"
        "import ptag\n"
        "t = threading.Thread(target=ptag.supported)\n"
        "t.start()\n"
        "time.sleep(0.2)\n"
        "assert 'ptag._abi' not in sys.modules or t.is_alive()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    signal.alarm(10)\n"
        "    ptag.supported()\n"
        "    os._exit(0)\n"
        "t.join()\n"
        "_, st = os.waitpid(pid, 0)\n"
        "print('hung' if os.WIFSIGNALED(st) else 'ok')\n"
    )
    out = run_python(code)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("call", ["get", "set", "list"])
def test_each_stub_loads_the_abi(call: str, in_child: Callable[..., Any]) -> None:
    """Whichever system call comes first loads ``_abi`` and rebinds all three names
    (in a child, with ``ptag._api`` reloaded: the call may set a tag)."""

    def first(call: str) -> object:
        import importlib

        from ptag import _api

        importlib.reload(_api)
        assert _api._get_tag.__module__ == "ptag._api"  # the stubs
        try:
            if call == "get":
                result: object = _api._get_tag(b"ptag.test.missing")
            elif call == "set":
                _api._set_tag(b"ptag.test.stub", b"v")
                result = None
            else:
                result = _api._list_tags()
        except OSError as e:
            result = e.errno
        names = (_api._get_tag, _api._set_tag, _api._list_tags)
        assert all(f.__module__ == "ptag._abi" for f in names)
        return result

    result = in_child(first, call)
    if not ptag.supported():
        assert result == errno.EINVAL


@pytest.mark.parametrize(
    ("argv", "needed", "not_needed"),
    [
        (["get", "--help"], "ptag.cli.get_set", ("ptag.cli.ps", "ptag.cli.explain")),
        (["ps", "--help"], "ptag.cli.ps", ("ptag.cli.oci_hook", "ptag.cli.explain", "json")),
        (["oci-hook", "--help"], "ptag.cli.oci_hook", ("ptag.cli.ps", "ptag.cli.explain")),
        # a listing reads /proc only: no ctypes; the cgroup regexes only for their columns
        (["ps"], "ptag.cli.ps", ("ctypes", "ptag._abi", "ptag.cli.heuristics", "json")),
        (["ps", "-o", "+guess"], "ptag.cli.heuristics", ("ctypes", "ptag._abi", "json")),
        (["ps", "-J", "-o", "pid,cgroup"], "ptag.cli.heuristics", ("ctypes", "ptag._abi")),
    ],
)
def test_cli_imports_only_its_command(
    argv: list[str], needed: str, not_needed: tuple[str, ...]
) -> None:
    """A command imports its own module and none of the others' (nor typing,
    dataclasses, inspect): start-up is most of a short command's cost."""
    code = (
        "import sys, contextlib, io\n"
        "from ptag.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        main.main({argv!r})\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    out = run_python(code).stdout
    loaded = set(out.split())
    assert needed in loaded
    # shutil: argparse imports it (with zlib, bz2, lzma) to measure the terminal
    for name in (*not_needed, "typing", "dataclasses", "inspect", "shutil"):
        assert name not in loaded, f"ptag {' '.join(argv)} imports {name}"


def _oldest_python() -> tuple[str, str | None]:
    """The oldest Python pyproject.toml promises, and an interpreter of it here."""
    root = Path(__file__).resolve().parents[2]
    m = re.search(r'requires-python\s*=\s*">=(\d+\.\d+)"', (root / "pyproject.toml").read_text())
    assert m, "pyproject.toml has no requires-python >= X.Y"
    version = m.group(1)
    pyenv = os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")
    candidates = [*sorted(glob.glob(pyenv)), shutil.which(f"python{version}")]
    found = None
    for cand in candidates:
        if not cand:
            continue
        # a pyenv shim may exist without the version behind it: ask the interpreter
        probe = subprocess.run(
            [cand, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            found = cand
            break
    return version, found


def test_runs_on_the_oldest_supported_python() -> None:
    """The library and every CLI module import and work on the oldest Python that
    pyproject.toml promises (no 3.10+ feature slips in: zip(strict=...), match,
    X | Y at run time, ...)."""
    version, python = _oldest_python()
    if python is None:
        pytest.skip(f"no Python {version} on this machine (PATH or ~/.pyenv)")
    root = Path(__file__).resolve().parents[2]
    code = (
        "import pickle, ptag\n"
        "from ptag.cli import exec, explain, get_set, heuristics, main, oci_hook, ps\n"
        "t = ptag.Tag('k', 'v', 0)\n"
        "assert pickle.loads(pickle.dumps(t)) == t\n"
        "assert next(ptag.process_iter()).pid > 0\n"
        "raise SystemExit(main.main(['ps', '-n', '-o', 'pid,comm,tags']))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(root / "libptag"))
    p = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert p.stdout.strip()


# --- the fork helper itself -------------------------------------------------------------


def test_run_in_child_returns_value(in_child: Callable[..., Any]) -> None:
    assert in_child(os.getpid) != os.getpid()
    assert in_child(lambda a, b=0: a + b, 2, b=3) == 5


def test_run_in_child_reraises(in_child: Callable[..., Any]) -> None:
    def fail() -> None:
        raise ptag.error_from_errno(17, key="k", pid=1)

    with pytest.raises(ptag.TagExistsError) as ei:
        in_child(fail)
    assert ei.value.key == "k"


def test_run_in_child_assertion(in_child: Callable[..., Any]) -> None:
    def check(x: int) -> None:
        assert x == 2, "boom"

    with pytest.raises(AssertionError, match="boom"):
        in_child(check, 1)


def test_run_in_child_died(in_child: Callable[..., Any]) -> None:
    with pytest.raises(RuntimeError, match="died without a result"):
        in_child(os._exit, 3)
