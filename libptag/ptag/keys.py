"""Well-known tag keys.

Conventional names so that runtimes, orchestrators and monitoring tools agree on
what a tag means.  Each is a valid key (``[A-Za-z0-9._/:-]``, at most 64 bytes).
Nothing in the kernel enforces these meanings; check a tag's ``owner`` before
trusting it.
"""

from __future__ import annotations

__all__ = [
    "CONTAINER_ID",
    "CONTAINER_NAME",
    "CONTAINER_RUNTIME",
    "K8S_POD_NAME",
    "K8S_POD_NAMESPACE",
    "K8S_POD_UID",
    "WELL_KNOWN",
]

CONTAINER_ID = "container.id"
"""The container's full id as its runtime reports it (e.g. a 64-hex-digit OCI id)."""

CONTAINER_NAME = "container.name"
"""The container's human-readable name (e.g. ``docker run --name`` or the pod's
container name)."""

CONTAINER_RUNTIME = "container.runtime"
"""The runtime that started the container, lower case (e.g. ``runc``, ``crun``,
``podman``, ``containerd``)."""

K8S_POD_NAMESPACE = "k8s.pod.namespace"
"""The Kubernetes namespace of the pod the container belongs to."""

K8S_POD_NAME = "k8s.pod.name"
"""The name of the Kubernetes pod the container belongs to."""

K8S_POD_UID = "k8s.pod.uid"
"""The UID of the Kubernetes pod (``metadata.uid``), stable across renames."""

WELL_KNOWN: tuple[str, ...] = (
    CONTAINER_ID,
    CONTAINER_NAME,
    CONTAINER_RUNTIME,
    K8S_POD_NAMESPACE,
    K8S_POD_NAME,
    K8S_POD_UID,
)
"""Every well-known key, in the order a table should show them."""
