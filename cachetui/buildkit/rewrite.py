"""Rewrite a cache for re-export: new layer blobs, media types, wrapper form, min-ify. Pure.

What must stay consistent (reference §9 "What must change when a layer is recompressed", §13):
every ``layers[].blob`` that names a re-encoded blob names the new one, the layer descriptors
carry the new digest/size/media type but keep ``containerd.io/uncompressed`` and
``buildkit/createdat``, and the config descriptor names the new config. A recompressed cache
whose config still names the old blobs imports without error and gets zero cache hits.

The output is deterministic and shaped like BuildKit's own (``sortConfig``): config layers sorted
by (blob, parent), manifest layers one per config entry in that order, annotation keys sorted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cachetui.buildkit.analysis import analyse
from cachetui.buildkit.cacheconfig import (
    CacheConfig,
    CacheLayer,
    CacheRecord,
    CacheResult,
    ChainedResult,
    LayerAnnotations,
    encode_cache_config,
    validate,
)
from cachetui.buildkit.document import CacheDocument, CacheFormat
from cachetui.errors import InvalidInput, UnsupportedOperation
from cachetui.oci import mediatypes as mt
from cachetui.oci.digest import Digest
from cachetui.oci.models import Descriptor, Index, Manifest, TopObject, encode_json, parse_top

OCI_REQUIRED_MESSAGE = (
    "invalid configuration for remote cache, OCI mediatypes are required for image-manifest "
    "cache format"
)
"""BuildKit's exact words for ``oci-mediatypes=false`` with ``image-manifest=true``."""

ESTARGZ_ANNOTATIONS = frozenset({
    "containerd.io/snapshot/stargz/toc.digest",
    "io.containers.estargz.uncompressed-size",
})
"""Only true of an estargz blob; a re-encoded blob is plain gzip/zstd/tar, so they go."""


@dataclass(frozen=True, slots=True)
class RewriteOptions:
    """``None`` keeps what the source has (as BuildKit: oci=false alone implies the index form)."""

    oci_mediatypes: bool | None = None
    image_manifest: bool | None = None
    minimal: bool = False


@dataclass(frozen=True, slots=True)
class Form:
    oci: bool
    image_manifest: bool

    @property
    def format(self) -> CacheFormat:
        if self.image_manifest:
            return CacheFormat.IMAGE_MANIFEST
        return CacheFormat.INDEX if self.oci else CacheFormat.DOCKER_LIST

    @property
    def top_media_type(self) -> str:
        if self.image_manifest:
            return mt.OCI_MANIFEST
        return mt.OCI_INDEX if self.oci else mt.DOCKER_LIST


@dataclass(frozen=True, slots=True)
class Rewritten:
    top: TopObject
    config_raw: bytes
    config_descriptor: Descriptor
    layers: tuple[Descriptor, ...]
    """Manifest layer descriptors in order (a digest may repeat, one per config entry)."""
    form: Form
    dropped_results: int = 0
    """Results removed: by ``--min``, or because a blob of their chain is not in the manifest."""
    unchanged: bool = False
    """Nothing had to change: ``top`` and ``config_raw`` are the source's exact bytes."""
    blobs: tuple[str, ...] = field(default=())
    """Unique layer digests the new manifest names, in manifest order."""


def resolve_form(document: CacheDocument, options: RewriteOptions) -> Form:
    """Target OCI-ness and wrapper; raises BuildKit's message for Docker + image-manifest."""
    if document.format not in (CacheFormat.IMAGE_MANIFEST, CacheFormat.INDEX,
                               CacheFormat.DOCKER_LIST):
        raise UnsupportedOperation(
            f"cannot re-export this cache: its form is {document.format} (only registry and "
            "local caches can be re-exported); copy it instead"
        )
    source_oci = document.format is not CacheFormat.DOCKER_LIST
    source_manifest = document.format is CacheFormat.IMAGE_MANIFEST
    oci = options.oci_mediatypes
    image_manifest = options.image_manifest
    if oci is False and image_manifest is True:
        raise InvalidInput(OCI_REQUIRED_MESSAGE)
    if image_manifest is None:
        image_manifest = False if oci is False else source_manifest
    if oci is None:
        oci = True if image_manifest else source_oci
    return Form(oci=oci, image_manifest=image_manifest)


def _sorted_annotations(values: Mapping[str, str]) -> dict[str, str] | None:
    return {key: values[key] for key in sorted(values)} if values else None


def _new_descriptor(original: Descriptor, replacement: Descriptor | None, oci: bool) -> Descriptor:
    """The layer descriptor to write: new blob facts, old diffID/createdat, target naming."""
    annotations = dict(original.annotations or {})
    digest, size, media_type = original.digest, original.size, original.media_type
    if replacement is not None and replacement.digest != original.digest:
        for key in ESTARGZ_ANNOTATIONS:
            annotations.pop(key, None)
    if replacement is not None:
        annotations.update(replacement.annotations or {})
        digest, size, media_type = str(replacement.digest), replacement.size, replacement.media_type
    if mt.is_layer(media_type):
        media_type = mt.convert_layer_type(media_type, oci=oci)
    return Descriptor(media_type=media_type, digest=digest, size=size,
                      annotations=_sorted_annotations(annotations), urls=original.urls)


def _entry_descriptors(document: CacheDocument, config: CacheConfig) -> list[Descriptor | None]:
    """The manifest descriptor of each config entry (positional when BuildKit's 1:1 holds)."""
    layers = document.layers
    first: dict[str, Descriptor] = {}
    for descriptor in layers:
        first.setdefault(descriptor.digest, descriptor)
    aligned = len(layers) == len(config.layers) and all(
        d.digest == entry.blob for d, entry in zip(layers, config.layers, strict=True)
    )
    if aligned:
        return list(layers)
    return [first.get(entry.blob) for entry in config.layers]


class _Builder:
    """Index bookkeeping: which entries survive, merged duplicates, BuildKit's sort order."""

    def __init__(self, config: CacheConfig, descriptors: list[Descriptor | None],
                 replacements: Mapping[str, Descriptor]) -> None:
        self.config = config
        self.descriptors = descriptors
        self.blobs = [
            str(replacements[entry.blob].digest) if entry.blob in replacements else entry.blob
            for entry in config.layers
        ]

    def valid_entries(self) -> list[bool]:
        """Entries whose whole chain has manifest descriptors (BuildKit drops the others)."""
        valid: dict[int, bool] = {}
        for start in range(len(self.config.layers)):
            path: list[int] = []
            node = start
            while node != -1 and node not in valid:
                path.append(node)
                node = self.config.layers[node].parent
            ok = valid.get(node, True) if node != -1 else True
            for entry in reversed(path):
                ok = ok and self.descriptors[entry] is not None
                valid[entry] = ok
        return [valid[i] for i in range(len(self.config.layers))]

    def canonical(self, keep: list[bool]) -> dict[int, int]:
        """Kept entry → first kept entry with the same (new blob, canonical parent) chain."""
        first: dict[tuple[str, int], int] = {}
        out: dict[int, int] = {}

        def resolve(index: int) -> int:
            path: list[int] = []
            node = index
            while node != -1 and node not in out:
                path.append(node)
                node = self.config.layers[node].parent
            for entry in reversed(path):
                parent = self.config.layers[entry].parent
                key = (self.blobs[entry], -1 if parent == -1 else out[parent])
                out[entry] = first.setdefault(key, entry)
            return out[index]

        for index, kept in enumerate(keep):
            if kept:
                resolve(index)
        return {index: out[index] for index, kept in enumerate(keep) if kept}


def _reachable(config: CacheConfig, records: list[CacheRecord]) -> set[int]:
    """Entries that a kept result stands on (chains' entries and all of their parents)."""
    out: set[int] = set()
    starts = [r.layer for rec in records for r in rec.layers]
    starts += [i for rec in records for chain in rec.chains for i in chain.layers]
    for start in starts:
        node = start
        while node != -1 and node not in out:
            out.add(node)
            node = config.layers[node].parent
    return out


def rewrite_document(
    document: CacheDocument,
    replacements: Mapping[str, Descriptor],
    options: RewriteOptions = RewriteOptions(),
) -> Rewritten:
    """New cache config and top object for ``document`` with blobs replaced.

    ``replacements`` maps an old blob digest to the new blob's descriptor (digest, size, media
    type in any naming; its annotations, e.g. a diffID, are added to the old ones).
    """
    form = resolve_form(document, options)
    config = document.config
    assert config is not None and document.config_descriptor is not None
    effective = {old: new for old, new in replacements.items() if new.digest != old
                 or new.media_type != _first_type(document, old)}
    same_form = form.format is document.format
    if not effective and same_form and not options.minimal and document.config_raw is not None:
        blobs = tuple(dict.fromkeys(d.digest for d in document.layers))
        return Rewritten(document.top, document.config_raw, document.config_descriptor,
                         document.layers, form, unchanged=True, blobs=blobs)

    descriptors = _entry_descriptors(document, config)
    builder = _Builder(config, descriptors, replacements)
    valid = builder.valid_entries()
    kept_records = set(analyse(document).minmax.kept_records) if options.minimal else None

    dropped = 0
    records: list[CacheRecord] = []
    for index, record in enumerate(config.records):
        keep_results = kept_records is None or index in kept_records
        results = tuple(r for r in record.layers if keep_results and valid[r.layer])
        chains = tuple(c for c in record.chains if keep_results and all(valid[i] for i in c.layers))
        dropped += len(record.layers) + len(record.chains) - len(results) - len(chains)
        records.append(CacheRecord(layers=results, chains=chains, digest=record.digest,
                                   inputs=record.inputs))

    if options.minimal:
        reachable = _reachable(config, records)
        keep = [i in reachable for i in range(len(config.layers))]
    else:
        keep = valid
    canonical = builder.canonical(keep)
    survivors = sorted(set(canonical.values()))
    # BuildKit's sortConfig: by blob digest, then by the pre-sort parent index.
    pre_index = {entry: position for position, entry in enumerate(survivors)}

    def pre_parent(entry: int) -> int:
        parent = config.layers[entry].parent
        return -1 if parent == -1 else pre_index[canonical[parent]]

    ordered = sorted(survivors, key=lambda e: (builder.blobs[e], pre_parent(e)))
    new_index = {entry: position for position, entry in enumerate(ordered)}

    def remap(old: int) -> int:
        return new_index[canonical[old]]

    new_layers: list[CacheLayer] = []
    new_descriptors: list[Descriptor] = []
    members: dict[int, list[int]] = {}
    for old, canon in canonical.items():
        members.setdefault(canon, []).append(old)
    for entry in ordered:
        source = config.layers[entry]
        parent = -1 if source.parent == -1 else remap(source.parent)
        original = _best_descriptor([descriptors[m] for m in members[entry]])
        replacement = replacements.get(source.blob)
        descriptor = _new_descriptor(original, replacement, form.oci)
        new_layers.append(CacheLayer(blob=builder.blobs[entry], parent=parent,
                                     annotations=_layer_annotations(source.annotations,
                                                                    descriptor)))
        new_descriptors.append(descriptor)

    final_records = []
    for record in records:
        results = tuple(dict.fromkeys(
            CacheResult(layer=remap(r.layer), created_at=r.created_at) for r in record.layers))
        chains = tuple(ChainedResult(layers=tuple(remap(i) for i in c.layers),
                                     created_at=c.created_at) for c in record.chains)
        final_records.append(CacheRecord(layers=results, chains=chains, digest=record.digest,
                                         inputs=record.inputs))
    new_config = CacheConfig(layers=new_layers, records=final_records)
    validate(new_config, where="rewritten cache config")
    config_raw = encode_cache_config(new_config)
    config_descriptor = Descriptor(media_type=mt.BUILDKIT_CACHE_CONFIG,
                                   digest=str(Digest.of(config_raw)), size=len(config_raw))

    if not options.minimal:
        referenced = {entry.blob for entry in config.layers}
        extra: dict[str, Descriptor] = {}
        for descriptor in document.layers:
            if descriptor.digest not in referenced:
                extra.setdefault(descriptor.digest, _new_descriptor(
                    descriptor, replacements.get(descriptor.digest), form.oci))
        new_descriptors.extend(extra.values())

    body: Manifest | Index
    if form.image_manifest:
        body = Manifest(schema_version=2, media_type=form.top_media_type,
                        config=config_descriptor, layers=new_descriptors)
    else:
        body = Index(schema_version=2, media_type=form.top_media_type,
                     manifests=[*new_descriptors, config_descriptor])
    raw = encode_json(body)
    top = parse_top(raw, media_type=form.top_media_type, where="rewritten manifest")
    return Rewritten(top, config_raw, config_descriptor, tuple(new_descriptors), form,
                     dropped_results=dropped,
                     blobs=tuple(dict.fromkeys(d.digest for d in new_descriptors)))


def _first_type(document: CacheDocument, digest: str) -> str | None:
    for descriptor in document.layers:
        if descriptor.digest == digest:
            return descriptor.media_type
    return None


def _best_descriptor(candidates: list[Descriptor | None]) -> Descriptor:
    """Of merged duplicates, the one that still carries ``buildkit/createdat`` if any does."""
    present = [c for c in candidates if c is not None]
    for candidate in present:
        if candidate.annotation(mt.ANNOTATION_CREATED):
            return candidate
    return present[0]


def _layer_annotations(old: LayerAnnotations | None,
                       descriptor: Descriptor) -> LayerAnnotations | None:
    """s3/gha-style config annotations follow the blob's new media type and size."""
    if old is None:
        return None
    return LayerAnnotations(media_type=descriptor.media_type if old.media_type else None,
                            diff_id=old.diff_id, size=descriptor.size if old.size else None,
                            created_at=old.created_at)
