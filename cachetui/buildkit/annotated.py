"""BuildKit's annotated cache config (s3, azblob, gha) <-> the OCI form (registry, local). Pure.

The s3, azblob and gha backends store no OCI manifest and no config blob: one JSON object holds the
cache config whose ``layers[i].annotations`` carry the descriptor facts
(``{mediaType, diffID, size, createdAt}``). The registry and local backends store the same config
without annotations, wrapped in an image manifest or index whose layer descriptors carry
``containerd.io/uncompressed`` (= ``diffID``) and ``buildkit/createdat`` (= ``createdAt``).

Both directions are one-to-one and produce the bytes BuildKit itself writes:
- to annotated: what ``cache/remotecache/s3`` ``Finalize`` marshals (``createdAt`` converted to UTC
  and always present, Go's zero time when the descriptor had none; ``size`` omitted when 0);
- to OCI: what BuildKit's registry exporter would write after importing it (the importer rebuilds
  descriptors with exactly those two annotations; the exporter converts the layer media types to
  the target naming, one descriptor per config layer, in config order).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cachetui.buildkit.cacheconfig import (
    CacheConfig,
    CacheLayer,
    LayerAnnotations,
    encode_cache_config,
    parse_cache_config,
)
from cachetui.buildkit.document import CacheDocument, build_document
from cachetui.errors import FormatError
from cachetui.oci import mediatypes as mt
from cachetui.oci.digest import Digest, is_digest
from cachetui.oci.models import Descriptor, Index, Manifest, TopObject, encode_json, parse_top

GO_ZERO_TIME: Final = "0001-01-01T00:00:00Z"
"""What Go's ``time.Time{}`` marshals to; BuildKit writes it for a layer without a creation time."""

_RFC3339: Final = re.compile(
    r"\A(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})\Z"
)


def go_utc_text(text: str, *, where: str = "createdAt") -> str:
    """``time.Parse(RFC3339Nano, text).UTC().MarshalText()``: nanoseconds kept, zeros trimmed.

    Python's datetime stops at microseconds, so the fraction is carried through as digits.
    """
    match = _RFC3339.match(text)
    if match is None:
        raise FormatError(f"malformed time {text!r}", where=where)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        base = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                        tzinfo=UTC)
    except ValueError:
        raise FormatError(f"malformed time {text!r}", where=where) from None
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        try:
            base -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        except OverflowError:
            raise FormatError(f"time out of range {text!r}", where=where) from None
    digits = (fraction or "").rstrip("0")
    stamp = f"{base.year:04d}-{base.month:02d}-{base.day:02d}T{base.hour:02d}:{base.minute:02d}:"
    stamp += f"{base.second:02d}"
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


def is_annotated(config: CacheConfig) -> bool:
    """True when every layer carries annotations (the s3/azblob/gha form)."""
    return bool(config.layers) and all(layer.annotations is not None for layer in config.layers)


def parse_annotated(raw: bytes, *, where: str = "cache manifest") -> CacheConfig:
    """Decode an s3/azblob manifest or gha index entry, with BuildKit's importer's checks."""
    config = parse_cache_config(raw, where=where)
    for i, layer in enumerate(config.layers):
        notes = layer.annotations
        if notes is None:
            raise FormatError(f"layers[{i}] has no annotations (BuildKit: cache layer with "
                              "missing annotations)", where=where)
        if not notes.diff_id:
            raise FormatError(f"layers[{i}] has no diffID (BuildKit: cache layer with missing "
                              "diffid)", where=where)
        if not is_digest(notes.diff_id) or not is_digest(layer.blob):
            raise FormatError(f"layers[{i}] has a malformed digest", where=where)
        if notes.media_type is not None and not mt.is_layer(notes.media_type):
            raise FormatError(f"layers[{i}] has unknown media type {notes.media_type!r}",
                              where=where)
        if notes.size is not None and notes.size < 0:
            raise FormatError(f"layers[{i}] has a negative size", where=where)
        if notes.created_at is not None:
            go_utc_text(notes.created_at, where=f"{where}: layers[{i}].annotations.createdAt")
    return config


@dataclass(frozen=True, slots=True)
class OciForm:
    """An annotated config as the registry/local form: wrapper, config blob, layer descriptors."""

    top: TopObject
    config_raw: bytes
    config_descriptor: Descriptor
    layers: tuple[Descriptor, ...]
    """One descriptor per config layer, in config order (a digest repeats if its entry does)."""

    def blobs(self) -> dict[str, bytes]:
        """The config blob by digest: what a store that has no config object serves."""
        return {self.config_descriptor.digest: self.config_raw}


def layer_descriptor(layer: CacheLayer, *, oci: bool = True) -> Descriptor:
    """The descriptor BuildKit's importer rebuilds from one annotated layer."""
    notes = layer.annotations
    if notes is None or not notes.diff_id:
        raise FormatError(f"layer {layer.blob} has no diffID annotation")
    annotations = {mt.ANNOTATION_UNCOMPRESSED: notes.diff_id}
    if notes.created_at and notes.created_at != GO_ZERO_TIME:
        # Go's MarshalText of the decoded (already UTC) time: the stored text, zeros trimmed.
        annotations[mt.ANNOTATION_CREATED] = go_utc_text(notes.created_at)
    media_type = notes.media_type or mt.OCI_LAYER_GZIP
    if mt.is_layer(media_type):
        media_type = mt.convert_layer_type(media_type, oci=oci)
    ordered = {key: annotations[key] for key in sorted(annotations)}
    return Descriptor(media_type=media_type, digest=layer.blob, size=notes.size or 0,
                      annotations=ordered)


def strip_annotations(config: CacheConfig) -> CacheConfig:
    """The same config as the registry form's config blob holds it."""
    layers = [CacheLayer(blob=layer.blob, parent=layer.parent) for layer in config.layers]
    return CacheConfig(layers=layers, records=config.records)


def annotated_to_oci(config: CacheConfig, *, image_manifest: bool = True,
                     oci: bool = True) -> OciForm:
    """Wrap an annotated config as BuildKit's registry exporter would (default: its defaults,
    an OCI image manifest)."""
    if image_manifest and not oci:
        raise FormatError("the image-manifest form needs OCI media types")
    descriptors = [layer_descriptor(layer, oci=oci) for layer in config.layers]
    config_raw = encode_cache_config(strip_annotations(config))
    config_descriptor = Descriptor(media_type=mt.BUILDKIT_CACHE_CONFIG,
                                   digest=str(Digest.of(config_raw)), size=len(config_raw))
    body: Manifest | Index
    if image_manifest:
        media_type = mt.OCI_MANIFEST
        body = Manifest(schema_version=2, media_type=media_type, config=config_descriptor,
                        layers=descriptors)
    else:
        media_type = mt.OCI_INDEX if oci else mt.DOCKER_LIST
        body = Index(schema_version=2, media_type=media_type,
                     manifests=[*descriptors, config_descriptor])
    raw = encode_json(body)
    top = parse_top(raw, media_type=media_type, where="converted cache manifest")
    return OciForm(top, config_raw, config_descriptor, tuple(descriptors))


def annotated_document(raw: bytes, *, where: str = "cache manifest") -> CacheDocument:
    """Parse an annotated manifest into the same :class:`CacheDocument` a registry cache gives,
    so every analysis runs on it unchanged."""
    form = annotated_to_oci(parse_annotated(raw, where=where))
    return build_document(form.top, form.config_raw, where=where)


def annotations_for(descriptor: Descriptor, *, where: str = "cache") -> LayerAnnotations:
    """``{mediaType, diffID, size, createdAt}`` for a layer descriptor, as s3's ``Finalize``."""
    diff_id = descriptor.annotation(mt.ANNOTATION_UNCOMPRESSED)
    if not diff_id:
        if descriptor.media_type in (mt.OCI_LAYER_TAR, mt.DOCKER_LAYER_TAR):
            diff_id = descriptor.digest
        else:
            raise FormatError(f"layer {descriptor.digest} has no {mt.ANNOTATION_UNCOMPRESSED} "
                              "annotation (BuildKit: invalid descriptor without uncompressed "
                              "annotation)", where=where)
    created = descriptor.annotation(mt.ANNOTATION_CREATED)
    created_at = go_utc_text(created, where=f"{where}: {descriptor.digest} "
                                            f"{mt.ANNOTATION_CREATED}") if created else GO_ZERO_TIME
    return LayerAnnotations(media_type=descriptor.media_type or None, diff_id=diff_id,
                            size=descriptor.size or None, created_at=created_at)


def annotate(config: CacheConfig, descriptors: Mapping[str, Descriptor], *,
             where: str = "cache") -> CacheConfig:
    """Attach each layer's descriptor facts (looked up by blob digest) to the config."""
    layers: list[CacheLayer] = []
    for i, layer in enumerate(config.layers):
        descriptor = descriptors.get(layer.blob)
        if descriptor is None:
            raise FormatError(f"layers[{i}] blob {layer.blob} has no descriptor in the manifest",
                              where=where)
        layers.append(CacheLayer(blob=layer.blob, parent=layer.parent,
                                 annotations=annotations_for(descriptor, where=where)))
    return CacheConfig(layers=layers, records=config.records)


def oci_to_annotated(document: CacheDocument) -> bytes:
    """The s3/azblob manifest (gha index entry) bytes for a registry/local cache document."""
    if document.config is None or not document.format.is_cache:
        raise FormatError("not a cache: only a cache config converts to the annotated form")
    descriptors: dict[str, Descriptor] = {}
    for descriptor in document.layers:
        diff_id = document.diff_ids.get(descriptor.digest)
        if diff_id and not descriptor.annotation(mt.ANNOTATION_UNCOMPRESSED):
            # An inline cache's image names diffIDs in its config's rootfs, not on descriptors.
            extra = {**(descriptor.annotations or {}), mt.ANNOTATION_UNCOMPRESSED: diff_id}
            descriptor = Descriptor(media_type=descriptor.media_type, digest=descriptor.digest,
                                    size=descriptor.size, annotations=extra)
        # Prefer the descriptor that carries a creation time when a digest repeats.
        if descriptor.digest not in descriptors or (
                descriptor.annotation(mt.ANNOTATION_CREATED)
                and not descriptors[descriptor.digest].annotation(mt.ANNOTATION_CREATED)):
            descriptors[descriptor.digest] = descriptor
    return encode_cache_config(annotate(strip_annotations(document.config), descriptors,
                                        where=document.top.digest))
