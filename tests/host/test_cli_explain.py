"""Cgroup-path heuristics and ``ptag explain``'s verdicts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from cli_run import no_ptags, run_module

import ptag
from ptag import ProcessInfo, Tag
from ptag.cli import explain, heuristics
from ptag.cli import main as ptag_main

A = "a" * 64
B = "0123456789abcdef" * 4
POD = "5c2e8f3a-0b1d-4e6f-9a7b-1c2d3e4f5a6b"


@pytest.mark.parametrize(
    ("text", "runtime", "ident", "name", "pod"),
    [
        (f"0::/system.slice/docker-{A}.scope\n", "docker", A, None, None),
        (f"12:memory:/docker/{A}\n11:cpu:/docker/{A}\n", "docker", A, None, None),
        (f"0::/docker/{A}/docker/{B}\n", "docker", B, None, None),  # docker-in-docker
        (f"0::/machine.slice/libpod-{A}.scope/container\n", "podman", A, None, None),
        (f"0::/machine.slice/libpod-conmon-{A}.scope\n", "podman", A, None, None),
        (f"0::/libpod_parent/libpod-{A}\n", "podman", A, None, None),
        (
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
            f"{POD.replace('-', '_')}.slice/cri-containerd-{A}.scope\n",
            "containerd",
            A,
            None,
            POD,
        ),
        (f"0::/kubepods/besteffort/pod{POD}/{A}\n", "containerd", A, None, POD),
        (f"0::/kubepods/pod{POD}/{A}\n", "containerd", A, None, POD),
        (
            f"0::/kubepods.slice/kubepods-pod{POD.replace('-', '_')}.slice/crio-{A}.scope\n",
            "cri-o",
            A,
            None,
            POD,
        ),
        (f"0::/machine.slice/crio-conmon-{A}.scope\n", "cri-o", A, None, None),
        ("0::/lxc.payload.web01\n", "lxc", None, "web01", None),
        ("0::/lxc.payload.web01/system.slice/cron.service\n", "lxc", None, "web01", None),
        ("0::/lxc.monitor.web01\n", "lxc", None, "web01", None),
        ("5:name=systemd:/lxc/build\n0::/\n", "lxc", None, "build", None),
        (
            "0::/machine.slice/machine-debian\\x2dtest.scope/payload\n",
            "systemd-nspawn",
            None,
            "debian-test",
            None,
        ),
        ("0::/machine.slice/machine-qemu\\x2d1\\x2dvm.scope\n", "libvirt", None, "qemu-1-vm", None),
        (f"/system.slice/docker-{A}.scope", "docker", A, None, None),  # a bare path
    ],
)
def test_guess(
    text: str, runtime: str, ident: str | None, name: str | None, pod: str | None
) -> None:
    g = heuristics.guess(text)
    assert g is not None
    assert (g.runtime, g.container_id, g.name, g.pod_uid) == (runtime, ident, name, pod)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "0::/\n",
        "0::/user.slice/user-1000.slice/session-3.scope\n",
        "0::/system.slice/docker.service\n",  # the daemon, not a container
        f"0::/system.slice/docker-{A[:12]}.scope\n",  # short ids are not docker's scopes
        "garbage\n:::\n0:x\n",
        f"0::/system.slice/notdocker-{A}.scope\n",
    ],
)
def test_no_guess(text: str | None) -> None:
    assert heuristics.guess(text) is None


def test_bare_pod_slice() -> None:
    g = heuristics.guess(f"0::/kubepods.slice/kubepods-pod{POD.replace('-', '_')}.slice\n")
    assert g is not None
    assert (g.runtime, g.pod_uid, g.container_id) == ("kubernetes", POD, None)


def test_unified_first_then_v1() -> None:
    text = f"4:memory:/docker/{B}\n0::/system.slice/docker-{A}.scope\n"
    g = heuristics.guess(text)
    assert g is not None
    assert g.container_id == A


def test_primary_path() -> None:
    assert heuristics.primary_path("0::/a/b\n") == "/a/b"
    assert heuristics.primary_path("1:name=systemd:/x\n0::/\n") == "/x"
    assert heuristics.primary_path("4:memory:/m\n0::/\n") == "/m"
    assert heuristics.primary_path("0::/\n") == "/"
    assert heuristics.primary_path("/bare/path") == "/bare/path"
    assert heuristics.primary_path(None) is None
    assert heuristics.primary_path("junk") is None


def test_parse_cgroup_keeps_colons_in_path() -> None:
    (line,) = heuristics.parse_cgroup("0::/a:b/c\n")
    assert (line.hierarchy, line.controllers, line.path, line.unified) == ("0", "", "/a:b/c", True)


def T(*pairs: tuple[str, str]) -> dict[str, Tag]:
    return {k: Tag(k, v, 0) for k, v in pairs}


DOCKER_A = heuristics.guess(f"0::/system.slice/docker-{A}.scope")
LXC_WEB = heuristics.guess("0::/lxc.payload.web")


@pytest.mark.parametrize(
    ("tags", "g", "kind"),
    [
        (T(), None, "nothing"),
        (T(("job", "x")), None, "nothing"),
        (T(("container.id", A)), None, "tags-only"),
        (T(), DOCKER_A, "guess-only"),
        (T(("container.id", A)), DOCKER_A, "agree"),
        (T(("container.id", A[:12])), DOCKER_A, "agree"),  # short id
        (T(("container.id", B)), DOCKER_A, "disagree"),
        (T(("container.name", "web")), LXC_WEB, "agree"),
        (T(("container.id", "web")), LXC_WEB, "agree"),
        (T(("container.id", B), ("container.name", "db")), LXC_WEB, "disagree"),
    ],
)
def test_verdict(tags: dict[str, Tag], g: heuristics.Guess | None, kind: str) -> None:
    v = explain.verdict(tags, g)
    assert v.kind == kind
    assert v.text.startswith({"disagree": "DISAGREE"}.get(kind, kind.replace("-", " ")))


def test_nested_layers() -> None:
    tags = T(
        ("container.id", B),
        ("container.name", "web"),
        ("container.runtime", "docker"),
        ("nested.container.id", A),
        ("nested.container.name", "build"),
        ("nested.container.runtime", "podman"),
    )
    assert [(x.prefix, x.name) for x in explain.layers(tags)] == [
        ("", "web"),
        ("nested.", "build"),
    ]
    podman_a = heuristics.guess(f"0::/system.slice/docker-{B}.scope/libpod-{A}.scope")
    v = explain.verdict(tags, podman_a)
    assert v.kind == "agree"
    assert (
        v.text == f"agree: the tags and the cgroup path both say podman container {A[:12]} (build)"
    )
    v = explain.verdict(tags, heuristics.guess(f"0::/system.slice/docker-{B}.scope"))
    assert v.kind == "agree"  # the outer layer matches
    v = explain.verdict(T(("container.id", B), ("container.name", "web")), podman_a)
    assert v.kind == "disagree"
    other = heuristics.guess("0::/lxc.payload.zzz")
    assert explain.verdict(tags, other).text.startswith(
        f"DISAGREE: the tags say podman container {A[:12]} (build) nested in docker container "
        f"{B[:12]} (web), the cgroup path suggests lxc container zzz"
    )


def test_verdict_pod_mismatch() -> None:
    other = "11111111-2222-3333-4444-555555555555"
    g = heuristics.guess(f"0::/kubepods/pod{POD}/{A}")
    tags = T(("container.id", A), ("k8s.pod.uid", other))
    v = explain.verdict(tags, g)
    assert v.kind == "disagree"
    assert POD in v.text
    assert other in v.text


def test_verdict_text_names_both() -> None:
    tags = T(("container.id", B), ("container.name", "web"), ("container.runtime", "podman"))
    v = explain.verdict(tags, DOCKER_A)
    assert v.text == (
        f"DISAGREE: the tags say podman container {B[:12]} (web), "
        f"the cgroup path suggests docker container {A[:12]}"
    )


ESCAPEE = ProcessInfo(
    4321,
    1,
    0,
    "sleep",
    {
        "container.id": Tag("container.id", B, 0),
        "container.name": Tag("container.name", "web", 0),
    },
    f"/system.slice/docker-{A}.scope",
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    def process_iter(*, pids: object = None) -> Iterator[ProcessInfo]:
        return iter([ESCAPEE] if pids == [4321] else [])

    monkeypatch.setattr(ptag, "process_iter", process_iter)
    monkeypatch.setattr(ptag, "supported", lambda: True)


@pytest.mark.usefixtures("fake")
def test_explain_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert ptag_main.main(["explain", "4321"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[0] == "process 4321 (sleep), user root, parent 1"
    assert f"  container.id    {B}  (set by root)" in out
    assert "guess (from cgroup path):" in out
    assert f"  container id  {A}" in out
    assert out.splitlines()[-1].startswith("verdict: DISAGREE:")


@pytest.mark.usefixtures("fake")
def test_explain_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert ptag_main.main(["explain", "-J", "4321"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "disagree"
    assert doc["tags"]["container.id"] == B
    assert doc["guess"]["runtime"] == "docker"
    assert doc["guess"]["container_id"] == A


@pytest.mark.usefixtures("fake")
def test_explain_missing_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert ptag_main.main(["explain", "999"]) == 1
    assert capsys.readouterr().err == "ptag: PID 999: no such process\n"


@no_ptags
def test_explain_on_host() -> None:
    p = run_module("ptag.cli.main", "explain", str(os.getpid()))
    assert p.returncode == 0
    assert p.stderr.startswith("ptag: note: kernel lacks ptag support")
    assert p.stderr.count("\n") == 1
    assert "tags: none" in p.stdout
    assert "guess (from cgroup path)" in p.stdout
    assert "verdict: " in p.stdout
