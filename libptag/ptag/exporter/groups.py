"""Groups of processes by their trusted tags, and the label names they get.

A process's group is the tuple of the values of the allowlisted keys among its
*trusted* tags, in allowlist order, ``""`` for a key it lacks.  A tag is trusted
when its owner (the uid that set it) is one of the trusted uids; any process may
tag itself with any key, so an untrusted tag is ignored (and reported).  The
processes without any trusted allowlisted tag form the untagged group, whose label
values are all empty.

Label names come from tag keys by one rule (:func:`label_name`): every character
other than ``A-Z a-z 0-9 _`` becomes ``_``, and a key that starts with a digit gets
a leading ``_``.  So ``container.id`` is ``container_id`` and ``k8s.pod.name`` is
``k8s_pod_name``; ``--label KEY=LABEL`` names a label explicitly.
"""

from __future__ import annotations

from .._validate import validate_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from .._types import Tag

__all__ = [
    "DEFAULT_KEYS",
    "RESERVED_LABELS",
    "Config",
    "label_name",
    "parse_label",
]

#: The tag keys grouped by when no ``--label`` is given (see :mod:`ptag.keys`).
DEFAULT_KEYS = (
    "container.id",
    "container.name",
    "container.runtime",
    "k8s.pod.namespace",
    "k8s.pod.name",
)

#: Label names the exporter's own metrics use next to the group's labels.
RESERVED_LABELS = frozenset(("mode",))

_LABEL_FIRST = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
_LABEL_CHARS = _LABEL_FIRST + "0123456789"


def label_name(key: str) -> str:
    """The Prometheus label name for tag key ``key`` (a valid key): characters
    other than ``A-Z a-z 0-9 _`` become ``_``, and a leading digit gets a ``_``
    before it.  Always a valid label name, never one starting with ``__``."""
    name = "".join(c if c in _LABEL_CHARS else "_" for c in key)
    return "_" + name if name[:1].isdigit() else name


def check_label(label: str) -> None:
    """Raise ValueError unless ``label`` is a label name the exporter may use:
    ``[A-Za-z_][A-Za-z0-9_]*``, not starting with ``__`` (reserved by Prometheus),
    and not one of :data:`RESERVED_LABELS`."""
    if not label or label[0] not in _LABEL_FIRST or label.strip(_LABEL_CHARS):
        raise ValueError(f"invalid label name '{label}' (label names match [A-Za-z_][A-Za-z0-9_]*)")
    if label.startswith("__"):
        raise ValueError(f"invalid label name '{label}' (names starting with __ are reserved)")
    if label in RESERVED_LABELS:
        raise ValueError(f"label name '{label}' is used by the exporter's own metrics")


def parse_label(spec: str) -> tuple[str, str]:
    """``KEY`` or ``KEY=LABEL`` (a ``--label`` argument) as ``(key, label)``;
    ValueError with a one-line reason when the key or the label is invalid."""
    key, eq, label = spec.partition("=")
    try:
        validate_key(key)
    except ValueError as exc:
        raise ValueError(f"invalid --label '{spec}': {exc}") from None
    if not eq:
        label = label_name(key)
    try:
        check_label(label)
    except ValueError as exc:
        raise ValueError(f"invalid --label '{spec}': {exc}") from None
    return key, label


def _printable(value: str) -> str:
    """A tag value as a label value: valid UTF-8 (bytes that were not UTF-8, kept
    by ``surrogateescape``, become U+FFFD)."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


class Config:
    """What to group by and whom to trust.

    ``keys`` and ``labels`` are parallel tuples (tag key, label name); ``trusted``
    the uids whose tags count; ``retention`` how many seconds a group whose
    processes have all exited keeps its series.
    """

    __slots__ = ("_empty", "keys", "labels", "retention", "trusted")

    def __init__(
        self,
        pairs: Sequence[tuple[str, str]] = (),
        trusted: Iterable[int] = (0,),
        retention: float = 300.0,
    ) -> None:
        """ValueError (one line) when a key is given twice or two keys would get
        the same label name."""
        if not pairs:
            pairs = [(k, label_name(k)) for k in DEFAULT_KEYS]
        keys: list[str] = []
        labels: list[str] = []
        for key, label in pairs:
            if key in keys:
                raise ValueError(f"tag key '{key}' given twice")
            if label in labels:
                other = keys[labels.index(label)]
                raise ValueError(
                    f"tag keys '{other}' and '{key}' both map to label '{label}'; "
                    f"name one with --label {key}=LABEL"
                )
            keys.append(key)
            labels.append(label)
        self.keys = tuple(keys)
        self.labels = tuple(labels)
        self.trusted = frozenset(trusted)
        self.retention = float(retention)
        self._empty = ("",) * len(keys)

    @property
    def untagged(self) -> tuple[str, ...]:
        """The group of the processes without trusted tags: every value empty."""
        return self._empty

    def group_of(self, tags: Mapping[str, Tag]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(group, untrusted)`` for a process with ``tags``: the group's label
        values, and the allowlisted keys whose tag was ignored because its owner is
        not trusted (usually empty)."""
        if not tags:
            return self._empty, ()
        values: list[str] = []
        untrusted: list[str] = []
        trusted = self.trusted
        for key in self.keys:
            tag = tags.get(key)
            if tag is None:
                values.append("")
            elif tag.owner in trusted:
                values.append(_printable(tag.value))
            else:
                values.append("")
                untrusted.append(key)
        return tuple(values), tuple(untrusted)
