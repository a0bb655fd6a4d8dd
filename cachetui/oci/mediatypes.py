"""Media types of OCI and Docker objects, BuildKit's cache config, and layer compression.

Facts from ``shared/reference/buildkit-cache-format.md`` section 1.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"

MANIFEST_TYPES: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES: Final = frozenset({OCI_INDEX, DOCKER_LIST})
TOP_LEVEL_TYPES: Final = MANIFEST_TYPES | INDEX_TYPES
ACCEPT_ALL_MANIFESTS: Final = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))

BUILDKIT_CACHE_CONFIG: Final = "application/vnd.buildkit.cacheconfig.v0"
OCI_IMAGE_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
DOCKER_IMAGE_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
IMAGE_CONFIG_TYPES: Final = frozenset({OCI_IMAGE_CONFIG, DOCKER_IMAGE_CONFIG})

OCI_LAYER_TAR: Final = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD: Final = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_FOREIGN_TAR: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_FOREIGN_GZIP: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_FOREIGN_ZSTD: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
DOCKER_LAYER_TAR: Final = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD: Final = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_FOREIGN_TAR: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar"
DOCKER_FOREIGN_GZIP: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

ANNOTATION_UNCOMPRESSED: Final = "containerd.io/uncompressed"
ANNOTATION_CREATED: Final = "buildkit/createdat"
ANNOTATION_REF_NAME: Final = "org.opencontainers.image.ref.name"
ANNOTATION_CONTAINERD_NAME: Final = "io.containerd.image.name"
INLINE_CACHE_KEY: Final = "moby.buildkit.cache.v0"


class Compression(StrEnum):
    """How a layer blob is encoded. estargz is gzip on the wire and is reported as gzip."""

    UNCOMPRESSED = "uncompressed"
    GZIP = "gzip"
    ZSTD = "zstd"


_LAYERS: Final[dict[str, tuple[Compression, bool, bool]]] = {
    # media type: (compression, is OCI, nondistributable)
    OCI_LAYER_TAR: (Compression.UNCOMPRESSED, True, False),
    OCI_LAYER_GZIP: (Compression.GZIP, True, False),
    OCI_LAYER_ZSTD: (Compression.ZSTD, True, False),
    OCI_FOREIGN_TAR: (Compression.UNCOMPRESSED, True, True),
    OCI_FOREIGN_GZIP: (Compression.GZIP, True, True),
    OCI_FOREIGN_ZSTD: (Compression.ZSTD, True, True),
    DOCKER_LAYER_TAR: (Compression.UNCOMPRESSED, False, False),
    DOCKER_LAYER_GZIP: (Compression.GZIP, False, False),
    DOCKER_LAYER_ZSTD: (Compression.ZSTD, False, False),
    DOCKER_FOREIGN_TAR: (Compression.UNCOMPRESSED, False, True),
    DOCKER_FOREIGN_GZIP: (Compression.GZIP, False, True),
}

LAYER_TYPES: Final = frozenset(_LAYERS)


def is_layer(media_type: str) -> bool:
    return media_type in _LAYERS


def layer_compression(media_type: str) -> Compression:
    """The compression a layer media type declares; raises KeyError for non-layer types."""
    return _LAYERS[media_type][0]


def is_oci_type(media_type: str) -> bool:
    return media_type.startswith("application/vnd.oci.")


def layer_media_type(
    compression: Compression, *, oci: bool, nondistributable: bool = False
) -> str:
    """The layer media type for a compression in OCI or Docker naming.

    Docker has no nondistributable zstd type; the OCI one is used then, as containerd does.
    """
    for media_type, (comp, is_oci, foreign) in _LAYERS.items():
        if comp is compression and is_oci == oci and foreign == nondistributable:
            return media_type
    return layer_media_type(compression, oci=True, nondistributable=nondistributable)


def convert_layer_type(media_type: str, *, oci: bool) -> str:
    """Switch a layer media type between OCI and Docker naming, keeping compression."""
    comp, _, foreign = _LAYERS[media_type]
    return layer_media_type(comp, oci=oci, nondistributable=foreign)


def is_nondistributable(media_type: str) -> bool:
    return _LAYERS.get(media_type, (Compression.GZIP, True, False))[2]


def sniff_compression(head: bytes) -> Compression:
    """Compression from the first bytes of a blob (gzip 1F 8B 08, zstd 28 B5 2F FD)."""
    if head.startswith(b"\x1f\x8b\x08"):
        return Compression.GZIP
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return Compression.ZSTD
    return Compression.UNCOMPRESSED
