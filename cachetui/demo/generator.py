"""Write BuildKit-shaped caches of any form, compression, mode and size into cache directories.

The shape follows the real exports in ``shared/fixtures/buildkit`` (the "app" Dockerfile): several
stages built from a local context, and a final stage whose steps ``COPY --from`` the others.

- Records: one root per stage base and one for the local context (no results); one per step, whose
  inputs are the previous step and, for COPY steps, the context (with a content selector) or another
  stage. ``mode=max`` gives every step a result; ``mode=min`` only the final stage (what a clean
  builder exports). Both have the same records.
- ``layers[]`` and ``records[]`` are sorted by digest with indices remapped, as BuildKit's
  ``sortConfig`` does, so parents can point forward and a missing ``parent`` key means 0.
- Manifest layer descriptors follow the config's layer order and carry ``buildkit/createdat`` and
  ``containerd.io/uncompressed``; index forms put the cache config last.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cachetui.buildkit.cacheconfig import (
    CacheConfig,
    CacheInput,
    CacheLayer,
    CacheRecord,
    CacheResult,
    encode_cache_config,
)
from cachetui.demo.layers import WrittenLayer, write_layer
from cachetui.oci import mediatypes as mt
from cachetui.oci.digest import Digest
from cachetui.oci.models import Descriptor, Index, Manifest, encode_json
from cachetui.store.fsutil import atomic_write
from cachetui.store.layout import LayoutStore

Form = Literal["image-manifest", "index", "docker-list"]


@dataclass(frozen=True, slots=True)
class CacheShape:
    """What to generate. Two shapes with the same ``seed`` share the layers they have in common."""

    form: Form = "image-manifest"
    compression: Literal["gzip", "zstd", "uncompressed"] = "gzip"
    mode: Literal["min", "max"] = "max"
    stages: int = 3
    """Stages before the final one (each contributes intermediate-only layers in max mode)."""
    steps_per_stage: int = 2
    final_steps: int = 3
    layer_bytes: int = 32 * 1024
    compressibility: float = 0.5
    extra_records: int = 0
    """Extra cache keys without results (large real configs have many)."""
    seed: int = 0
    variant: int = 0
    """A rebuild with changed sources: the last step of each stage and the first final step change."""
    created: datetime = field(default_factory=lambda: datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    level: int | None = None


@dataclass(frozen=True, slots=True)
class GeneratedCache:
    tag: str
    digest: Digest
    media_type: str
    config_digest: Digest
    layers: tuple[WrittenLayer, ...]
    final_layers: tuple[str, ...]
    record_count: int


@dataclass(slots=True)
class _Record:
    digest: str
    inputs: list[list[tuple[str, int]]]
    result: int | None = None
    created: str = ""


def _rfc3339(value: datetime) -> str:
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text.rstrip("0").rstrip(".") + "Z"


def _key(*parts: object) -> str:
    return "sha256:" + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


class _Builder:
    def __init__(self, root: Path, shape: CacheShape) -> None:
        self.shape = shape
        self.blobs = root / "blobs" / "sha256"
        self.records: list[_Record] = []
        self.entries: list[tuple[str, int]] = []  # (blob digest, parent entry)
        self.written: dict[str, WrittenLayer] = {}
        self.created_at: dict[str, str] = {}
        self.clock = shape.created
        self.compression = mt.Compression(shape.compression)
        self.final_blobs: list[str] = []

    def tick(self) -> datetime:
        self.clock += timedelta(milliseconds=37, microseconds=123)
        return self.clock

    def record(self, identity: str, inputs: list[list[tuple[str, int]]],
               result: int | None = None) -> int:
        created = _rfc3339(self.tick()) if result is not None else ""
        self.records.append(_Record(_key(self.shape.seed, identity), inputs, result, created))
        return len(self.records) - 1

    def layer(self, identity: str, parent_entry: int, changed: bool) -> int:
        seed_text = f"{self.shape.seed}:{identity}:{self.shape.variant if changed else 0}"
        seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "big")
        written = write_layer(
            self.blobs, seed=seed, size=self.shape.layer_bytes,
            compressibility=self.shape.compressibility, compression=self.compression,
            name=f"{identity.replace(':', '/')}.bin", level=self.shape.level,
        )
        self.written[written.digest] = written
        self.created_at.setdefault(written.digest, _rfc3339(self.tick()))
        self.entries.append((written.digest, parent_entry))
        return len(self.entries) - 1

    def build(self) -> None:
        shape = self.shape
        context = self.record("context", [])
        stage_last: list[int] = []
        for stage in range(shape.stages):
            previous = self.record(f"stage{stage}:base", [])
            parent = -1
            for step in range(shape.steps_per_stage):
                identity = f"stage{stage}:step{step}"
                changed = step == shape.steps_per_stage - 1
                inputs = [[("", previous)]]
                if step % 2 == 0:
                    inputs.append([(_key("selector", identity, shape.variant if changed else 0),
                                    context)])
                if shape.mode == "max":
                    parent = self.layer(identity, parent, changed)
                    previous = self.record(identity, inputs, parent)
                else:
                    previous = self.record(identity, inputs)
            stage_last.append(previous)
        previous = self.record("final:base", [])
        parent = -1
        for step in range(shape.final_steps):
            identity = f"final:step{step}"
            inputs = [[("", previous)]]
            if step < len(stage_last):
                inputs.append([("", stage_last[step])])
            else:
                inputs.append([(_key("selector", identity), context)])
            parent = self.layer(identity, parent, changed=step == 0)
            self.final_blobs.append(self.entries[parent][0])
            previous = self.record(identity, inputs, parent)
        for extra in range(shape.extra_records):
            target = (extra * 7919) % len(self.records)
            self.record(f"extra{extra}", [[("", target)]])

    def config(self) -> CacheConfig:
        """Sort as BuildKit's sortConfig does and remap every index."""
        layer_order = sorted(range(len(self.entries)), key=lambda i: (self.entries[i][0],
                                                                      self.entries[i][1]))
        new_layer = {old: new for new, old in enumerate(layer_order)}
        layers = [
            CacheLayer(blob=self.entries[old][0],
                       parent=-1 if self.entries[old][1] == -1 else new_layer[self.entries[old][1]])
            for old in layer_order
        ]
        record_order = sorted(range(len(self.records)), key=lambda i: self.records[i].digest)
        new_record = {old: new for new, old in enumerate(record_order)}
        records = []
        for old in record_order:
            source = self.records[old]
            inputs = tuple(
                tuple(sorted(
                    (CacheInput(selector=selector, link=new_record[link]) if selector
                     else CacheInput(link=new_record[link]) for selector, link in alternatives),
                    key=lambda item: item.link,
                ))
                for alternatives in source.inputs
            )
            results = ((CacheResult(layer=new_layer[source.result], created_at=source.created),)
                       if source.result is not None else ())
            records.append(CacheRecord(layers=results, digest=source.digest, inputs=inputs))
        return CacheConfig(layers=layers, records=records)


def _layer_descriptor(written: WrittenLayer, created: str, *, oci: bool,
                      compression: mt.Compression) -> Descriptor:
    return Descriptor(
        media_type=mt.layer_media_type(compression, oci=oci),
        digest=written.digest,
        size=written.size,
        annotations={mt.ANNOTATION_CREATED: created, mt.ANNOTATION_UNCOMPRESSED: written.diff_id},
    )


def write_cache(root: str | Path, tag: str, shape: CacheShape | None = None) -> GeneratedCache:
    """Generate a cache into the directory ``root`` (created if needed) under ``tag``.

    Like BuildKit, a tag that already exists is replaced and the old blobs stay behind.
    """
    shape = shape or CacheShape()
    root = Path(root)
    builder = _Builder(root, shape)
    builder.build()
    config = builder.config()
    config_raw = encode_cache_config(config)
    config_digest = Digest.of(config_raw)
    atomic_write(builder.blobs / config_digest.hex, config_raw, mode=0o444)
    config_descriptor = Descriptor(media_type=mt.BUILDKIT_CACHE_CONFIG, digest=config_digest,
                                   size=len(config_raw))
    oci = shape.form != "docker-list"
    descriptors = [
        _layer_descriptor(builder.written[layer.blob], builder.created_at[layer.blob], oci=oci,
                          compression=builder.compression)
        for layer in config.layers
    ]
    top: Manifest | Index
    if shape.form == "image-manifest":
        media_type = mt.OCI_MANIFEST
        top = Manifest(schema_version=2, media_type=media_type, config=config_descriptor,
                       layers=descriptors)
    else:
        media_type = mt.OCI_INDEX if shape.form == "index" else mt.DOCKER_LIST
        top = Index(schema_version=2, media_type=media_type,
                    manifests=[*descriptors, config_descriptor])
    raw = encode_json(top)
    digest = Digest.of(raw)
    atomic_write(builder.blobs / digest.hex, raw, mode=0o444)
    entry = Descriptor(media_type=media_type, digest=digest, size=len(raw),
                       annotations={mt.ANNOTATION_REF_NAME: tag})

    def put(manifests: list[Descriptor]) -> list[Descriptor]:
        kept = [d for d in manifests if d.annotation(mt.ANNOTATION_REF_NAME) != tag]
        return [*kept, entry]

    LayoutStore(root, create=True).update_index_sync(put)
    final_layers = tuple(sorted(builder.final_blobs))
    return GeneratedCache(tag, digest, media_type, config_digest,
                          tuple(builder.written.values()), final_layers, len(config.records))


def write_stale_blobs(root: str | Path, count: int, size: int = 4096, seed: int = 99) -> list[str]:
    """Blobs nothing references (what repeated exports without ``reset=true`` leave)."""
    blobs = Path(root) / "blobs" / "sha256"
    out = []
    for index in range(count):
        written = write_layer(blobs, seed=seed * 1_000_003 + index, size=size, compressibility=0.3,
                              compression=mt.Compression.GZIP, name=f"stale/{index}")
        out.append(written.digest)
    return out
