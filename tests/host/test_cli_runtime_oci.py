"""ptag._oci, the mapping ``ptag oci-hook`` and ``ptag-runtime`` share: the same tags
from the same id and annotations, the key prefix, and the documents' parsers."""

from __future__ import annotations

import json

import pytest

from ptag import _oci
from ptag.cli import oci_hook

ANN = {
    "io.kubernetes.cri.container-name": "nginx",
    "io.kubernetes.cri.sandbox-namespace": "shop",
    "io.kubernetes.cri.sandbox-name": "web-1",
    "io.kubernetes.cri.sandbox-uid": "u-1",
    "org.ptag.tag.team": "payments",
    "org.ptag.tag.ci/job": "7",
}


def test_hook_and_runtime_share_one_mapping() -> None:
    state = oci_hook.State("c1", 1, ANN)
    hook = oci_hook.tags_for(state, prefix=_oci.DEFAULT_PREFIX, runtime="runc")
    assert hook == _oci.tags_for("c1", ANN, runtime="runc")
    assert hook == [
        ("container.id", "c1"),
        ("container.runtime", "runc"),
        ("container.name", "nginx"),
        ("k8s.pod.namespace", "shop"),
        ("k8s.pod.name", "web-1"),
        ("k8s.pod.uid", "u-1"),
        ("ci/job", "7"),
        ("team", "payments"),
    ]
    assert oci_hook.ANNOTATION_KEYS is _oci.ANNOTATION_KEYS
    assert oci_hook.parse_state is _oci.parse_state


def test_key_prefix() -> None:
    pairs = _oci.tags_for("c1", {"org.ptag.tag.team": "x"}, runtime="crun", key_prefix="inner.")
    assert pairs == [
        ("inner.container.id", "c1"),
        ("inner.container.runtime", "crun"),
        ("inner.team", "x"),
    ]
    with pytest.raises(_oci.OciError, match=r"cannot set tag 'in ner\.container\.id'"):
        _oci.tags_for("c1", {}, key_prefix="in ner.")
    with pytest.raises(_oci.OciError, match="cannot set tag '" + "p" * 60):
        _oci.tags_for("c1", {}, key_prefix="p" * 60)  # too long with the key


def test_error_sources_are_named() -> None:
    with pytest.raises(_oci.OciError) as info:
        _oci.tags_for("bad\nid", {}, id_source="the container id")
    assert str(info.value).startswith("cannot set tag 'container.id' from the container id:")
    with pytest.raises(_oci.OciError) as info:
        _oci.tags_for("c", {}, runtime="a\x01", runtime_source="the runtime's name")
    assert "from the runtime's name" in str(info.value)


def test_lone_surrogate_from_json_is_refused() -> None:
    config = _oci.parse_config(b'{"annotations": {"org.ptag.tag.k": "\\ud800"}}')
    with pytest.raises(_oci.OciError, match="value is not valid UTF-8"):
        _oci.tags_for("c", config.annotations)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "config.json is empty"),
        (b"{", "invalid config.json JSON: Expecting property name"),
        (b"\xff", "config.json is not UTF-8 (byte 0)"),
        (b"[]", "invalid config.json: expected a JSON object"),
        (b'{"annotations": []}', 'invalid config.json: "annotations" is not an object'),
        (b'{"annotations": {"a": null}}', "invalid config.json: annotation 'a' is not a string"),
    ],
)
def test_parse_config_errors(data: bytes, message: str) -> None:
    with pytest.raises(_oci.OciError) as info:
        _oci.parse_config(data)
    assert str(info.value).startswith(message)


def test_parse_config() -> None:
    assert _oci.parse_config(b'{"ociVersion": "1.0.2"}').annotations == {}
    assert _oci.parse_config(b'{"annotations": null}').annotations == {}
    assert _oci.parse_config(b'{"annotations": {"a": "b"}}', "x/c.json").annotations == {"a": "b"}


def state(**doc: object) -> bytes:
    base: dict[str, object] = {"ociVersion": "1.0.2", "id": "c1", "status": "running", "pid": 42}
    base.update(doc)
    return json.dumps(base).encode()


def test_parse_runtime_state() -> None:
    assert _oci.parse_runtime_state(state(), "c1") == 42
    for status in ("created", "paused"):
        assert _oci.parse_runtime_state(state(status=status), "c1") == 42


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty state of container 'c1'"),
        (b"nope", "invalid state of container 'c1' JSON"),
        (state(id="c2"), 'invalid state of container \'c1\': its "id" is "c2"'),
        (
            state(status="stopped", pid=0),
            "container 'c1' has no process to join (status \"stopped\")",
        ),
        (state(pid=0), '"pid" is not a process ID: 0'),
        (state(pid="42"), '"pid" is not a process ID: "42"'),
    ],
)
def test_parse_runtime_state_errors(data: bytes, message: str) -> None:
    with pytest.raises(_oci.OciError) as info:
        _oci.parse_runtime_state(data, "c1")
    assert message in str(info.value)
