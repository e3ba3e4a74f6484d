"""The container engines of the runtime tests: Debian's containerd, dockerd and
Podman, started by the tests in the VM with every bit of their state in scratch
directories, and the checks that a container's processes carry its tags.

The VM's root file system is the host's, read-only under overlays; ``/run`` is a
tmpfs.  So every daemon gets its root, state, sockets and configuration under a
fresh directory of ``/run/ptag-engines`` (``--root``/``--state``/``--data-root``/
``--exec-root``/``--config-file``, ``CONTAINERS_CONF``), nothing is pulled (the
image is imported from the busybox tarball of :mod:`rootfs`), networking is off
(``--network none``, ``--bridge=none --iptables=false``) and the storage driver is
``vfs``, which works on any file system.

What is checked is the same for every engine (:func:`check_attribution`): seen
from the VM's initial namespaces, through ``/proc/<pid>/ptags``, the container's
init, the child it started and the process an ``exec`` started all carry
``container.id`` = the engine's full container id (and the annotation tags where
the engine passes annotations), and ``ptag ps -l container.id=ID`` lists exactly
the processes of the container's PID namespace.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest
import rootfs

import ptag

#: Where the engines keep their state: a tmpfs in the VM.
BASE = Path(os.environ.get("PTAG_ENGINES_DIR", "/run/ptag-engines"))
#: Debian's docker client (a newer one may come first on PATH; this one matches dockerd).
DOCKER_CLIENT = "/usr/bin/docker"
IN_VM = os.environ.get("PTAG_IN_VM") == "1"
#: How long a daemon may take to come up under TCG (dockerd took 48 s).
START_TIMEOUT = 300.0
#: One engine command under TCG (podman run took 25 s).
COMMAND_TIMEOUT = 600.0

BIN = Path(sys.executable).parent  # the venv's ptag, ptag-runtime


def require(*programs: str) -> None:
    """Skip (on a machine that cannot run these tests), or fail (in the VM, where
    everything they need is installed by tools/setup), unless the kernel has ptags,
    this is root, and every program exists."""
    missing = [p for p in programs if shutil.which(p) is None and not os.path.exists(p)]
    reasons = []
    if not ptag.supported():
        reasons.append("the kernel lacks ptag support")
    if os.geteuid() != 0:
        reasons.append("not root")
    if missing:
        reasons.append(f"not installed: {', '.join(missing)} (tools/setup --runtimes)")
    if not reasons:
        return
    if IN_VM:
        pytest.fail("; ".join(reasons) + " (in the VM every runtime test must run)")
    pytest.skip("; ".join(reasons) + " (these tests run in the VM: make runtimes)")


def program(name: str) -> str:
    """The venv's *name* (``ptag``, ``ptag-runtime``), by absolute path."""
    path = BIN / name
    assert path.exists(), f"{path} is missing: pip install -e . (tools/setup)"
    return str(path)


def ptag_runtime_python() -> str:
    """The interpreter ptag-runtime's Python half runs with (its #! line) and its
    version, for the benchmarks' record: its start is most of what create and exec
    cost."""
    interp = Path(program("ptag-runtime-py")).read_text().split("\n", 1)[0][2:].strip()
    code = "import sys; print(sys.version.split()[0], sys.base_prefix)"
    version, base = subprocess.run(
        [interp, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return f"Python {version} (from {base}), {interp}"


def scratch(name: str) -> Path:
    """A new, empty directory ``BASE/name-N`` for one engine's state."""
    BASE.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        path = BASE / f"{name}-{n}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"no free directory for {name} under {BASE}")


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = COMMAND_TIMEOUT,
    check: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run *argv*; with *check*, a failure is an AssertionError that shows the
    command, its exit status, its output, and how long it ran."""
    start = time.monotonic()
    p = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        env=None if env is None else dict(env),
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    took = time.monotonic() - start
    print(f"$ {' '.join(argv)}  # exit {p.returncode}, {took:.1f} s", flush=True)
    if check and p.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)}: exit {p.returncode} after {took:.1f} s\n"
            f"stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}"
        )
    return p


class Daemon:
    """A daemon started by a test, its output in a log file; stopped at exit."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, env: Mapping[str, str]):
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.started = time.monotonic()
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env),
                start_new_session=True,
            )
        atexit.register(self.stop)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"

    def wait_until(self, ready: Callable[[], bool], what: str) -> float:
        """Poll *ready* until it is true; the seconds since the start.  Fails with
        the log's tail when the daemon dies or START_TIMEOUT passes."""
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited {self.proc.returncode} before {what}:\n{self.tail()}"
                )
            if ready():
                took = time.monotonic() - self.started
                print(f"{self.name}: {what} after {took:.1f} s", flush=True)
                return took
            if time.monotonic() - self.started > START_TIMEOUT:
                raise AssertionError(
                    f"{self.name}: no {what} within {START_TIMEOUT:.0f} s:\n{self.tail()}"
                )
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)


def daemon_env() -> dict[str, str]:
    """The environment of the daemons: the VM's, with the venv's bin (ptag-runtime
    finds the real runc there, on PATH, after it)."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return env


# --- the image ------------------------------------------------------------------------


def busybox_tarball(where: Path) -> Path:
    """The busybox root file system (:mod:`rootfs`) as a tarball in *where*."""
    tree = rootfs.build_rootfs(where / "rootfs")
    return rootfs.make_tarball(tree, where / "busybox.tar")


# --- containerd -----------------------------------------------------------------------

_CONTAINERD: Containerd | None = None


class Containerd:
    """Debian's containerd with its root, state and socket in a scratch directory
    (the CRI plugin off: nothing here uses Kubernetes)."""

    def __init__(self) -> None:
        self.dir = scratch("containerd")
        self.socket = self.dir / "containerd.sock"
        config = self.dir / "config.toml"
        config.write_text(
            "version = 2\n"
            f'root = "{self.dir / "root"}"\n'
            f'state = "{self.dir / "state"}"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            "[grpc]\n"
            f'  address = "{self.socket}"\n'
            "[ttrpc]\n"
            f'  address = "{self.socket}.ttrpc"\n'
        )
        self.daemon = Daemon(
            "containerd", ["containerd", "--config", str(config)], self.dir / "log", daemon_env()
        )
        self.startup = self.daemon.wait_until(self._answers, "containerd.sock answering")

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        p = subprocess.run(self.ctr("version"), capture_output=True, timeout=60)
        return p.returncode == 0

    def ctr(self, *args: str, namespace: str = "ptag-test") -> list[str]:
        return ["ctr", "--address", str(self.socket), "--namespace", namespace, *args]


def containerd() -> Containerd:
    """The one containerd of this test run (Docker's, and ctr's), started once."""
    global _CONTAINERD
    if _CONTAINERD is None:
        _CONTAINERD = Containerd()
    return _CONTAINERD


# --- dockerd --------------------------------------------------------------------------


class Dockerd:
    """Debian's dockerd on :func:`containerd`, vfs storage, no networking, its
    configuration file *config* (a ``daemon.json``)."""

    def __init__(self, config: Path) -> None:
        self.containerd = containerd()
        self.dir = scratch("dockerd")
        self.socket = self.dir / "docker.sock"
        argv = [
            "dockerd",
            "--containerd",
            str(self.containerd.socket),
            "--config-file",
            str(config),
            "--data-root",
            str(self.dir / "data"),
            "--exec-root",
            str(self.dir / "exec"),
            "--pidfile",
            str(self.dir / "dockerd.pid"),
            "--host",
            f"unix://{self.socket}",
            "--storage-driver",
            "vfs",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
        ]
        self.daemon = Daemon("dockerd", argv, self.dir / "log", daemon_env())
        self.startup = self.daemon.wait_until(self._answers, "docker.sock answering")

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        p = subprocess.run(self.docker("version"), capture_output=True, timeout=60)
        return p.returncode == 0

    def docker(self, *args: str) -> list[str]:
        return [DOCKER_CLIENT, "--host", f"unix://{self.socket}", *args]

    def stop(self) -> None:
        self.daemon.stop()


# --- podman ---------------------------------------------------------------------------


class Podman:
    """Debian's Podman with its storage and state in a scratch directory, vfs
    storage, cgroupfs, the file events backend, and *conf* as its only
    ``containers.conf`` (``CONTAINERS_CONF``)."""

    def __init__(self, conf: Path | None = None) -> None:
        self.dir = scratch("podman")
        self.env = daemon_env()
        self.env["TMPDIR"] = str(self.dir / "tmp")
        (self.dir / "tmp").mkdir()
        if conf is None:
            conf = self.dir / "containers.conf"
            conf.write_text("")
        self.env["CONTAINERS_CONF"] = str(conf)

    def podman(self, *args: str) -> list[str]:
        return [
            "podman",
            "--root",
            str(self.dir / "root"),
            "--runroot",
            str(self.dir / "runroot"),
            "--tmpdir",
            str(self.dir / "libpod-tmp"),
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            *args,
        ]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(self.podman(*args), env=self.env, check=check)


# --- ptag install, for real -----------------------------------------------------------


def ptag_install(root: Path, *args: str) -> None:
    """``ptag install --root ROOT ARGS...``: the configuration the engines then read."""
    root.mkdir(parents=True, exist_ok=True)
    run([program("ptag"), "install", "--root", str(root), *args])


# --- what is checked ------------------------------------------------------------------


def pid_ns(pid: int) -> tuple[int, int]:
    st = os.stat(f"/proc/{pid}/ns/pid")
    return st.st_dev, st.st_ino


def processes_in_ns_of(pid: int) -> set[int]:
    """Every process in the PID namespace of *pid* (seen from here)."""
    want = pid_ns(pid)
    out = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if pid_ns(int(name)) == want:
                out.add(int(name))
    return out


def all_pids() -> set[int]:
    return {int(name) for name in os.listdir("/proc") if name.isdigit()}


def descendants(pid: int) -> set[int]:
    """*pid* and every process below it (those that still exist)."""
    children: dict[int, list[int]] = {}
    for p in all_pids():
        with contextlib.suppress(OSError, ValueError):
            children.setdefault(ppid(p), []).append(p)
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo += children.get(p, [])
    return out


def comm(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return f.read().decode("utf-8", "replace").rstrip("\n")
    except OSError:
        return None


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]


def ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return int(data[data.rindex(b")") + 2 :].split()[1])


def wait_for_process(init: int, argv: Sequence[str], timeout: float = 120.0) -> int:
    """The PID (here) of the process running *argv* in the PID namespace of *init*,
    waiting for it to appear."""
    deadline = time.monotonic() + timeout
    while True:
        for pid in sorted(processes_in_ns_of(init)):
            with contextlib.suppress(OSError):
                if cmdline(pid) == list(argv):
                    return pid
        if time.monotonic() > deadline:
            seen = {p: cmdline(p) for p in processes_in_ns_of(init)}
            raise AssertionError(f"no process {list(argv)} in the container of {init}: {seen}")
        time.sleep(0.2)


def tags_of(pid: int) -> dict[str, str]:
    """The tags of *pid*, as ``/proc/<pid>/ptags`` shows them here."""
    return {k: t.value for k, t in ptag.read_proc_tags(pid).items()}


def ptag_ps(selector: str) -> set[int]:
    """The PIDs that ``ptag ps -l SELECTOR`` lists."""
    p = run([program("ptag"), "ps", "-n", "-o", "pid", "-l", selector], check=False)
    assert p.returncode in (0, 1), p.stderr
    return {int(line) for line in p.stdout.split()}


def check_attribution(
    cid: str,
    init: int,
    child_argv: Sequence[str],
    exec_pid: int | None,
    want: Mapping[str, str],
    outside: frozenset[int] = frozenset(),
) -> None:
    """The container's init, its child running *child_argv*, and the exec'd
    *exec_pid* carry every tag of *want* (``container.id`` among them, = *cid*),
    seen from here; and ``ptag ps -l container.id=CID`` lists exactly the
    container's processes (and *outside*: tagged processes outside its PID
    namespace that the test expects, such as a foreground ``lxc-attach``)."""
    assert want["container.id"] == cid
    child = wait_for_process(init, child_argv)
    assert ppid(child) == init, (child, ppid(child), init)
    procs = {"init": init, "child": child}
    if exec_pid is not None:
        assert ppid(exec_pid) != init  # not a descendant of init: the runtime forked it
        procs["exec"] = exec_pid
    for what, pid in procs.items():
        have = tags_of(pid)
        for key, value in want.items():
            assert have.get(key) == value, (what, pid, cmdline(pid), key, have)
        for key in have:  # every tag was set by root (the runtime, as root)
            assert ptag.read_proc_tags(pid)[key].owner == 0, (what, key)
    members = processes_in_ns_of(init)
    assert set(procs.values()) <= members
    assert ptag_ps(f"container.id={cid}") == members | outside
    # for the record (and the transcripts of docs/recipes.rst)
    columns = "pid,ppid,comm," + ",".join(f"tag:{k}" for k in want)
    argv = [program("ptag"), "ps", "-w", "-o", columns, "-l", f"container.id={cid}"]
    print(f"$ ptag ps -o {columns} -l container.id={cid}\n{run(argv).stdout}", flush=True)


@contextlib.contextmanager
def cleanup(*argvs: Sequence[str], env: Mapping[str, str] | None = None) -> Iterator[None]:
    """Run each of *argvs* (removing a container) on the way out, whatever
    happened; their failures are printed, not raised."""
    try:
        yield
    finally:
        for argv in argvs:
            run(argv, env=env, check=False)
