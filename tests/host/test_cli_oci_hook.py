"""``ptag oci-hook``: state parsing, the annotation mapping, and failures."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from cli_run import no_ptags, run_module

import ptag
from ptag.cli import oci_hook

CID = "9f5c" + "e" * 60
POD = "5c2e8f3a-0b1d-4e6f-9a7b-1c2d3e4f5a6b"


def run(*args: str, input: bytes) -> subprocess.CompletedProcess[str]:
    return run_module("ptag.cli.main", "oci-hook", *args, input=input)


def state(**over: object) -> bytes:
    doc: dict[str, object] = {
        "ociVersion": "1.0.2",
        "id": CID,
        "status": "creating",
        "pid": os.getpid(),
        "bundle": "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" + CID,
        "annotations": {},
    }
    doc.update(over)
    return json.dumps(doc).encode()


CONTAINERD_ANNOTATIONS = {
    "io.kubernetes.cri.container-type": "container",
    "io.kubernetes.cri.container-name": "nginx",
    "io.kubernetes.cri.sandbox-id": "b" * 64,
    "io.kubernetes.cri.sandbox-name": "web-7d4b9c-x2x9z",
    "io.kubernetes.cri.sandbox-namespace": "shop",
    "io.kubernetes.cri.sandbox-uid": POD,
    "io.kubernetes.cri.image-name": "docker.io/library/nginx:1.27",
}
CRIO_ANNOTATIONS = {
    "io.kubernetes.container.name": "nginx",
    "io.kubernetes.pod.name": "web-7d4b9c-x2x9z",
    "io.kubernetes.pod.namespace": "shop",
    "io.kubernetes.pod.uid": POD,
    "io.kubernetes.cri-o.Labels": '{"app":"web"}',
}


@pytest.mark.parametrize("annotations", [CONTAINERD_ANNOTATIONS, CRIO_ANNOTATIONS])
def test_kubernetes_mapping(annotations: dict[str, str]) -> None:
    p = run("--dry-run", "--runtime", "runc", input=state(annotations=annotations))
    assert (p.returncode, p.stderr) == (0, "")
    assert p.stdout.splitlines() == [
        f"container.id={CID}",
        "container.runtime=runc",
        "container.name=nginx",
        "k8s.pod.namespace=shop",
        "k8s.pod.name=web-7d4b9c-x2x9z",
        f"k8s.pod.uid={POD}",
    ]


def test_prefix_mapping() -> None:
    ann = {
        "org.ptag.tag.team": "payments",
        "org.ptag.tag.ci/job": "1234",
        "org.example.other": "ignored",
    }
    p = run("--dry-run", input=state(annotations=ann))
    assert p.stdout.splitlines() == [f"container.id={CID}", "ci/job=1234", "team=payments"]
    p = run("--dry-run", "--annotation-prefix", "org.example.", input=state(annotations=ann))
    assert p.stdout.splitlines() == [f"container.id={CID}", "other=ignored"]
    p = run("--dry-run", "--annotation-prefix", "", input=state(annotations=ann))
    assert p.stdout.splitlines() == [f"container.id={CID}"]


def test_minimal_state() -> None:
    p = run("--dry-run", input=json.dumps({"id": "abc", "pid": 1}).encode())
    assert (p.returncode, p.stdout) == (0, "container.id=abc\n")
    p = run("--dry-run", input=json.dumps({"id": "abc", "pid": 1, "annotations": None}).encode())
    assert p.returncode == 0


def test_same_value_twice_is_fine() -> None:
    ann = {"io.kubernetes.pod.name": "a", "io.kubernetes.cri.sandbox-name": "a"}
    p = run("--dry-run", input=state(annotations=ann))
    assert p.returncode == 0


BAD: list[tuple[bytes, str]] = [
    (b"", "no container state on stdin"),
    (b"  \n", "no container state on stdin"),
    (b"{", "invalid container state JSON: Expecting property name"),
    (b"\xff\xfe{}", "container state is not UTF-8"),
    (b"null", "expected a JSON object"),
    (b"[1, 2]", "expected a JSON object"),
    (b'"id"', "expected a JSON object"),
    (b"[" * 100000, "invalid container state JSON"),
    (b'{"pid": 1}', 'no "id"'),
    (b'{"id": "", "pid": 1}', '"id" is not a non-empty string'),
    (b'{"id": 5, "pid": 1}', '"id" is not a non-empty string'),
    (b'{"id": "x"}', 'no "pid"'),
    (b'{"id": "x", "pid": null}', 'no "pid"'),
    (b'{"id": "x", "pid": "1"}', '"pid" is not a process ID: "1"'),
    (b'{"id": "x", "pid": true}', '"pid" is not a process ID: true'),
    (b'{"id": "x", "pid": 0}', '"pid" is not a process ID: 0'),
    (b'{"id": "x", "pid": -5}', '"pid" is not a process ID: -5'),
    (b'{"id": "x", "pid": 1.5}', '"pid" is not a process ID: 1.5'),
    (b'{"id": "x", "pid": NaN}', '"pid" is not a process ID: NaN'),
    (b'{"id": "x", "pid": 1e999}', '"pid" is not a process ID: Infinity'),
    (b'{"id": "x", "pid": 99999999999999999999}', '"pid" is not a process ID'),
    (b'{"id": "x", "pid": 1, "annotations": []}', '"annotations" is not an object'),
    (b'{"id": "x", "pid": 1, "annotations": {"a": 1}}', "annotation 'a' is not a string"),
    (b'{"id": "x", "pid": 1, "ociVersion": 1}', '"ociVersion" is not a string'),
    (b'{"id": "x\\ny", "pid": 1}', "cannot set tag 'container.id' from the state's \"id\""),
    (b'{"id": "' + b"x" * 300 + b'", "pid": 1}', "cannot set tag 'container.id'"),
    (
        b'{"id": "x", "pid": 1, "annotations": {"org.ptag.tag.bad key": "v"}}',
        "cannot set tag 'bad key' from annotation 'org.ptag.tag.bad key'",
    ),
    (
        b'{"id": "x", "pid": 1, "annotations": {"org.ptag.tag.": "v"}}',
        "annotation 'org.ptag.tag.' names no tag",
    ),
    (
        b'{"id": "x", "pid": 1, "annotations": {"org.ptag.tag.container.id": "y"}}',
        "conflicting values for tag 'container.id'",
    ),
    (
        b'{"id": "x", "pid": 1, "annotations": {"io.kubernetes.pod.name": "a",'
        b' "io.kubernetes.cri.sandbox-name": "b"}}',
        "conflicting values for tag 'k8s.pod.name'",
    ),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_bad_state_fails_with_one_line(data: bytes, message: str) -> None:
    p = run("--dry-run", input=data)
    assert p.returncode == 1
    assert "Traceback" not in p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("ptag: oci-hook: ")
    assert message in lines[0], lines[0]
    assert p.stdout == ""


def test_too_many_annotations() -> None:
    ann = {f"org.ptag.tag.k{i}": "v" for i in range(ptag.MAX_TAGS)}
    p = run("--dry-run", input=state(annotations=ann))
    assert p.returncode == 1
    assert "too many tags" in p.stderr


def test_state_too_large() -> None:
    big = b'{"id": "x", "pid": 1, "pad": "' + b"x" * (oci_hook.MAX_STATE_BYTES + 10) + b'"}'
    p = run("--dry-run", input=big)
    assert p.returncode == 1
    assert "larger than" in p.stderr


def test_bad_runtime_is_usage_error() -> None:
    p = run("--runtime", "a\x01b", input=state())
    assert p.returncode == 2
    assert p.stderr.startswith("ptag: invalid --runtime:")


@no_ptags
def test_no_kernel_support_fails_the_container() -> None:
    p = run("--runtime", "runc", input=state())
    assert p.returncode == 1
    assert p.stderr.startswith("ptag: oci-hook: kernel lacks ptag support")
    assert p.stderr.count("\n") == 1


def test_tags_for_order_and_sources() -> None:
    st = oci_hook.State("c1", 1, {"org.ptag.tag.b": "2", "org.ptag.tag.a": "1"})
    assert oci_hook.tags_for(st, prefix="org.ptag.tag.", runtime="crun") == [
        ("container.id", "c1"),
        ("container.runtime", "crun"),
        ("a", "1"),
        ("b", "2"),
    ]


def test_docstring_documents_mapping() -> None:
    doc = oci_hook.__doc__ or ""
    for annotation, key in oci_hook.ANNOTATION_KEYS:
        assert annotation in doc
        assert key in doc
        assert annotation in oci_hook.EPILOG
