"""Descriptors, manifests and indexes, decoded from raw bytes with strict type checks.

The raw bytes are kept next to the decoded structure: a digest is over exact bytes, so a copy must
write those bytes back unchanged, never a re-serialisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

import msgspec

from cachetui.errors import FormatError, TooLarge
from cachetui.oci import mediatypes as mt
from cachetui.oci.digest import Digest, is_digest

MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024
"""Largest manifest or index we parse (the OCI spec asks registries to accept at least 4 MB)."""

NonNegative = Annotated[int, msgspec.Meta(ge=0)]


class Platform(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    architecture: str
    os: str
    variant: str | None = None
    os_version: str | None = msgspec.field(default=None, name="os.version")


class Descriptor(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel", gc=False):
    """An OCI content descriptor. Field order matches what BuildKit and containerd write."""

    media_type: str
    digest: str
    size: NonNegative
    annotations: dict[str, str] | None = None
    urls: list[str] | None = None
    platform: Platform | None = None
    artifact_type: str | None = None
    data: str | None = None

    def __post_init__(self) -> None:
        if not is_digest(self.digest):
            shown = self.digest if len(self.digest) <= 80 else self.digest[:77] + "..."
            raise ValueError(f"invalid digest {shown!r}")

    @property
    def blob_digest(self) -> Digest:
        return Digest(self.digest)

    def annotation(self, key: str) -> str | None:
        return None if self.annotations is None else self.annotations.get(key)


class Manifest(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel", kw_only=True):
    """An OCI or Docker image manifest (also BuildKit's image-manifest cache form).

    Fields are declared in the order Go's image-spec structs encode them, so a manifest built
    here serialises exactly as BuildKit writes it.
    """

    schema_version: int
    media_type: str | None = None
    artifact_type: str | None = None
    config: Descriptor
    layers: list[Descriptor] = msgspec.field(default_factory=list)
    subject: Descriptor | None = None
    annotations: dict[str, str] | None = None


class Index(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel", kw_only=True):
    """An OCI index or Docker manifest list (also BuildKit's legacy index cache form)."""

    schema_version: int
    media_type: str | None = None
    artifact_type: str | None = None
    manifests: list[Descriptor]
    subject: Descriptor | None = None
    annotations: dict[str, str] | None = None


class _Probe(msgspec.Struct):
    """Just enough to tell a manifest from an index before the strict decode."""

    media_type: str | None = msgspec.field(default=None, name="mediaType")
    manifests: msgspec.Raw = msgspec.Raw(b"")
    config: msgspec.Raw = msgspec.Raw(b"")
    layers: msgspec.Raw = msgspec.Raw(b"")


@dataclass(frozen=True, slots=True)
class TopObject:
    """A manifest or index with its exact bytes, digest and media type."""

    raw: bytes
    digest: Digest
    media_type: str
    body: Manifest | Index

    @property
    def is_index(self) -> bool:
        return isinstance(self.body, Index)

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(media_type=self.media_type, digest=self.digest, size=len(self.raw))

    def children(self) -> list[Descriptor]:
        """Every descriptor this object points at (config first for a manifest)."""
        if isinstance(self.body, Index):
            return list(self.body.manifests)
        return [self.body.config, *self.body.layers]


def _decode_error(where: str, exc: Exception) -> FormatError:
    text = str(exc).replace("\n", " ")
    return FormatError(f"malformed JSON: {text}", where=where)


def parse_top(raw: bytes, *, media_type: str | None = None, where: str = "manifest") -> TopObject:
    """Decode a manifest or index from raw bytes.

    ``media_type`` is what the registry or ``index.json`` said; the JSON ``mediaType`` must agree
    with it when both are present. Raises :class:`FormatError` for anything malformed.
    """
    if len(raw) > MAX_MANIFEST_BYTES:
        raise TooLarge(
            f"manifest is {len(raw)} bytes, over the {MAX_MANIFEST_BYTES} byte limit", where=where
        )
    try:
        probe = msgspec.json.decode(raw, type=_Probe)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise _decode_error(where, exc) from None
    has_index_shape = len(probe.manifests) > 0
    has_manifest_shape = len(probe.config) > 0 or len(probe.layers) > 0
    if has_index_shape and has_manifest_shape:
        raise FormatError("has both 'manifests' and 'config'/'layers'", where=where)
    declared = probe.media_type
    if declared is not None and media_type is not None and declared != media_type:
        raise FormatError(
            f"mediaType {declared!r} in the JSON does not match {media_type!r}", where=where
        )
    effective = declared or media_type
    body: Manifest | Index
    try:
        if has_index_shape:
            body = msgspec.json.decode(raw, type=Index)
        elif has_manifest_shape:
            body = msgspec.json.decode(raw, type=Manifest)
        else:
            raise FormatError("neither a manifest nor an index (no 'manifests' or 'config')",
                              where=where)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise _decode_error(where, exc) from None
    if body.schema_version != 2:
        raise FormatError(f"schemaVersion is {body.schema_version}, expected 2", where=where)
    if effective is None:
        effective = mt.OCI_INDEX if isinstance(body, Index) else mt.OCI_MANIFEST
    if isinstance(body, Index) and effective not in mt.INDEX_TYPES:
        raise FormatError(f"an index cannot have media type {effective!r}", where=where)
    if isinstance(body, Manifest) and effective not in mt.MANIFEST_TYPES:
        raise FormatError(f"a manifest cannot have media type {effective!r}", where=where)
    return TopObject(raw=raw, digest=Digest.of(raw), media_type=effective, body=body)


def _encode_hook(value: object) -> object:
    if isinstance(value, str):  # Digest and other str subclasses
        return str(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


_encoder = msgspec.json.Encoder(enc_hook=_encode_hook)


def encode_json(value: object) -> bytes:
    """Compact JSON, as BuildKit writes it (no spaces, no trailing newline)."""
    return _encoder.encode(value)
