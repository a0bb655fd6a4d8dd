"""Classify a top object as a cache (and which form), an image with inline cache, or an image.

Pure: the caller fetches the top object and, where :func:`config_descriptor` says so, the config
blob, then calls :func:`build_document`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from enum import StrEnum

import msgspec

from cachetui.buildkit.cacheconfig import (
    CacheConfig,
    CacheLayer,
    parse_cache_config,
    parse_inline_records,
    validate,
)
from cachetui.errors import FormatError
from cachetui.oci import mediatypes as mt
from cachetui.oci.models import Descriptor, Index, Manifest, TopObject


class CacheFormat(StrEnum):
    """The five things a tag can be, from cachetui's point of view."""

    IMAGE_MANIFEST = "image-manifest"
    INDEX = "index"
    DOCKER_LIST = "docker-list"
    INLINE = "inline"
    IMAGE = "image"

    @property
    def is_cache(self) -> bool:
        return self is not CacheFormat.IMAGE


@dataclass(frozen=True, slots=True)
class CacheDocument:
    """A parsed tag: top object, its config, the cache config and the layer descriptors."""

    format: CacheFormat
    top: TopObject
    config_descriptor: Descriptor | None
    """The cache config descriptor, or the image config for inline caches and images."""
    config: CacheConfig | None
    """The cache config (synthesised from the image for inline caches); ``None`` for images."""
    layers: tuple[Descriptor, ...]
    """Layer descriptors in manifest order (several may share a digest)."""
    diff_ids: dict[str, str]
    """Blob digest to diffID, from ``containerd.io/uncompressed`` or the image's ``rootfs``."""
    config_raw: bytes | None = None

    @property
    def is_cache(self) -> bool:
        return self.format.is_cache


def config_descriptor(top: TopObject) -> Descriptor | None:
    """The blob to fetch next: the cache config, or an image config to look for inline cache.

    ``None`` for an index of manifests (a multi-platform image), which is not a cache.
    """
    body = top.body
    if isinstance(body, Index):
        for entry in body.manifests:
            if entry.media_type == mt.BUILDKIT_CACHE_CONFIG:
                return entry
        return None
    if body.config.media_type == mt.BUILDKIT_CACHE_CONFIG:
        return body.config
    if body.config.media_type in mt.IMAGE_CONFIG_TYPES:
        return body.config
    return None


def build_document(
    top: TopObject, config_raw: bytes | None, *, where: str = "cache"
) -> CacheDocument:
    """Classify and parse. ``config_raw`` is the blob :func:`config_descriptor` named, if any."""
    body = top.body
    descriptor = config_descriptor(top)
    if isinstance(body, Index):
        if descriptor is None:
            return _image(top, None, None)
        if config_raw is None:
            raise FormatError("cache config blob is missing", where=where)
        layers = tuple(d for d in body.manifests if d.media_type != mt.BUILDKIT_CACHE_CONFIG)
        _check_layer_types(layers, where)
        form = CacheFormat.DOCKER_LIST if top.media_type == mt.DOCKER_LIST else CacheFormat.INDEX
        config = parse_cache_config(config_raw, where=where)
        return CacheDocument(form, top, descriptor, config, layers, _annotated_diff_ids(layers),
                             config_raw)
    assert isinstance(body, Manifest)
    layers = tuple(body.layers)
    if descriptor is not None and descriptor.media_type == mt.BUILDKIT_CACHE_CONFIG:
        if config_raw is None:
            raise FormatError("cache config blob is missing", where=where)
        _check_layer_types(layers, where)
        config = parse_cache_config(config_raw, where=where)
        return CacheDocument(CacheFormat.IMAGE_MANIFEST, top, descriptor, config, layers,
                             _annotated_diff_ids(layers), config_raw)
    if descriptor is None or config_raw is None:
        return _image(top, descriptor, config_raw)
    return _from_image_config(top, body, descriptor, config_raw, where)


def _check_layer_types(layers: tuple[Descriptor, ...], where: str) -> None:
    for layer in layers:
        if not mt.is_layer(layer.media_type):
            raise FormatError(f"unknown layer media type {layer.media_type!r}", where=where)


def _annotated_diff_ids(layers: tuple[Descriptor, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for layer in layers:
        diff_id = layer.annotation(mt.ANNOTATION_UNCOMPRESSED)
        if diff_id:
            out[layer.digest] = diff_id
        elif layer.media_type in (mt.OCI_LAYER_TAR, mt.DOCKER_LAYER_TAR):
            out[layer.digest] = layer.digest
    return out


def _image(top: TopObject, descriptor: Descriptor | None, raw: bytes | None) -> CacheDocument:
    layers = tuple(top.body.layers) if isinstance(top.body, Manifest) else ()
    return CacheDocument(CacheFormat.IMAGE, top, descriptor, None, layers,
                         _annotated_diff_ids(layers), raw)


class _RootFS(msgspec.Struct):
    diff_ids: list[str] = msgspec.field(default_factory=list)


class _ImageConfig(msgspec.Struct):
    rootfs: _RootFS = msgspec.field(default_factory=_RootFS)
    inline_cache: str | None = msgspec.field(default=None, name=mt.INLINE_CACHE_KEY)


def _from_image_config(
    top: TopObject, body: Manifest, descriptor: Descriptor, raw: bytes, where: str
) -> CacheDocument:
    try:
        image_config = msgspec.json.decode(raw, type=_ImageConfig)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise FormatError(f"malformed image config: {exc}", where=where) from None
    layers = tuple(body.layers)
    diff_ids = dict(_annotated_diff_ids(layers))
    if len(image_config.rootfs.diff_ids) == len(layers):
        for layer, diff_id in zip(layers, image_config.rootfs.diff_ids, strict=True):
            diff_ids.setdefault(layer.digest, diff_id)
    if not image_config.inline_cache:
        return CacheDocument(CacheFormat.IMAGE, top, descriptor, None, layers, diff_ids, raw)
    try:
        records_json = base64.b64decode(image_config.inline_cache, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{mt.INLINE_CACHE_KEY} is not valid base64", where=where) from None
    records = parse_inline_records(records_json, where=f"{where} (inline cache)")
    if len(image_config.rootfs.diff_ids) != len(layers):
        raise FormatError(
            f"inline cache: image has {len(layers)} layers but "
            f"{len(image_config.rootfs.diff_ids)} diff_ids (BuildKit skips such an image)",
            where=where,
        )
    # BuildKit's importer: layers[i] = {blob: manifest.layers[i], parent: i - 1}.
    synthetic = [CacheLayer(blob=layer.digest, parent=i - 1) for i, layer in enumerate(layers)]
    config = CacheConfig(layers=synthetic, records=records)
    validate(config, where=f"{where} (inline cache)")
    return CacheDocument(CacheFormat.INLINE, top, descriptor, config, layers, diff_ids, raw)
