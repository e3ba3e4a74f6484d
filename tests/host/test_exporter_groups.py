"""ptag exporter: label names from tag keys, --label parsing, trust, and grouping
(pure functions, synthetic tags)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptag import Tag, validate_key
from ptag.exporter.groups import DEFAULT_KEYS, Config, check_label, label_name, parse_label

LABEL_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/:-"


def tags(*items: tuple[str, str, int]) -> dict[str, Tag]:
    return {k: Tag(k, v, owner) for k, v, owner in items}


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("container.id", "container_id"),
        ("k8s.pod.namespace", "k8s_pod_namespace"),
        ("io.kubernetes/pod-name:x", "io_kubernetes_pod_name_x"),
        ("9lives", "_9lives"),
        ("A_b", "A_b"),
    ],
)
def test_label_name_rule(key: str, label: str) -> None:
    assert label_name(key) == label
    check_label(label)  # always a label the exporter accepts


@given(st.text(alphabet=KEY_CHARS, min_size=1, max_size=64).filter(lambda k: k[0] not in "._/:-"))
def test_every_valid_key_gives_a_valid_label(key: str) -> None:
    validate_key(key)
    label = label_name(key)
    assert set(label) <= LABEL_CHARS
    assert not label[0].isdigit()
    assert not label.startswith("__")
    assert len(label) in (len(key), len(key) + 1)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("container.id", ("container.id", "container_id")),
        ("container.id=cid", ("container.id", "cid")),
        ("job.name=_job", ("job.name", "_job")),
    ],
)
def test_parse_label(spec: str, expected: tuple[str, str]) -> None:
    assert parse_label(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty key"),
        (".x", "invalid first character"),
        ("a b", "invalid character"),
        ("k=", "invalid label name ''"),
        ("k=1x", "invalid label name '1x'"),
        ("k=a.b", "invalid label name 'a.b'"),
        ("k=__name__", "reserved"),
        ("k=mode", "exporter's own metrics"),
    ],
)
def test_parse_label_rejects(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"invalid --label|label name") as info:
        parse_label(spec)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_default_config() -> None:
    c = Config()
    assert c.keys == DEFAULT_KEYS
    assert c.labels == (
        "container_id",
        "container_name",
        "container_runtime",
        "k8s_pod_namespace",
        "k8s_pod_name",
    )
    assert c.trusted == frozenset({0})
    assert c.untagged == ("",) * 5


def test_config_rejects_duplicates() -> None:
    with pytest.raises(ValueError, match="given twice"):
        Config([("a", "a"), ("a", "b")])
    with pytest.raises(ValueError, match=r"'a\.b' and 'a-b' both map to label 'a_b'"):
        Config([parse_label("a.b"), parse_label("a-b")])
    Config([parse_label("a.b"), parse_label("a-b=ab")])  # named apart: fine


def test_group_of_trusted_tags() -> None:
    c = Config([("container.id", "cid"), ("container.name", "name")])
    assert c.group_of({}) == (("", ""), ())
    t = tags(("container.id", "abc", 0), ("container.name", "web", 0), ("other", "x", 0))
    assert c.group_of(t) == (("abc", "web"), ())
    # a key the process lacks is an empty value, not a different group shape
    assert c.group_of(tags(("container.name", "web", 0))) == (("", "web"), ())
    # tags on keys that are not grouped by make no group
    assert c.group_of(tags(("job", "x", 0))) == (("", ""), ())


def test_untrusted_tags_are_ignored_and_named() -> None:
    c = Config([("container.id", "cid"), ("container.name", "name")], trusted=[0, 1000])
    self_set = tags(("container.id", "fake", 4242), ("container.name", "web", 1000))
    assert c.group_of(self_set) == (("", "web"), ("container.id",))
    # an untrusted tag on a key not grouped by is not reported: it changes nothing
    assert c.group_of(tags(("other", "x", 4242))) == (("", ""), ())
    only_untrusted = tags(("container.id", "fake", 4242))
    assert c.group_of(only_untrusted) == (c.untagged, ("container.id",))


def test_values_that_are_not_utf8_become_replacement_characters() -> None:
    c = Config([("k", "k")])
    raw = b"caf\xe9".decode("utf-8", "surrogateescape")
    assert c.group_of(tags(("k", raw, 0)))[0] == ("caf\ufffd",)
    assert c.group_of(tags(("k", "café", 0)))[0] == ("café",)
