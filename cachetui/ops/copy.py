"""Copy caches between any two stores, exactly: the manifest digest is preserved.

Plan first (:func:`plan_copy`: what moves, what is skipped or mounted, how many bytes), then
:func:`apply_copy` executes that plan: layer blobs, then config blobs, then child manifests, then
the top manifest's exact bytes with the tag. Every form copies (image-manifest, index and
Docker-list caches, inline caches as their image, multi-platform image indexes). A re-run after an
interruption skips every blob that is already there, so it finishes without moving them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cachetui.buildkit.document import CacheFormat
from cachetui.errors import BlobsMissing, InvalidInput, NotFound
from cachetui.oci import mediatypes as mt
from cachetui.oci.models import Descriptor, Manifest, TopObject
from cachetui.oci.reference import validate_tag
from cachetui.ops.load import load_document
from cachetui.ops.progress import CancelToken, Progress, ProgressSink, no_progress
from cachetui.ops.transfer import (
    DEFAULT_CONCURRENCY,
    BlobAction,
    planned_action,
    transfer_blobs,
)
from cachetui.store.base import Store

BlobRole = Literal["layer", "config", "manifest"]

TAG_ATTEMPTS = 3
"""Tries to tag a manifest when a concurrent gc took blobs below it (each puts them back)."""


@dataclass(frozen=True, slots=True)
class PlannedBlob:
    descriptor: Descriptor
    role: BlobRole
    action: BlobAction

    @property
    def size(self) -> int:
        return self.descriptor.size


@dataclass(frozen=True, slots=True)
class TagCopy:
    """One tag: its top object, the manifests below it, and every blob it needs."""

    source_ref: str
    destination_tag: str
    top: TopObject
    format: CacheFormat
    blobs: tuple[PlannedBlob, ...]
    children: tuple[TopObject, ...] = ()
    """Child manifests of a multi-platform image index, copied before the index."""
    already_there: bool = False
    """The destination tag already points at this exact manifest."""
    replaces: str | None = None
    """The digest the destination tag points at now, when the copy moves it elsewhere."""


@dataclass(frozen=True, slots=True)
class CopyPlan:
    source: str
    destination: str
    tags: tuple[TagCopy, ...]
    notes: tuple[str, ...] = field(default=())

    def _unique(self) -> dict[str, PlannedBlob]:
        out: dict[str, PlannedBlob] = {}
        for tag in self.tags:
            for blob in tag.blobs:
                out.setdefault(blob.descriptor.digest, blob)
        return out

    @property
    def blob_count(self) -> int:
        return len(self._unique())

    def bytes_for(self, action: BlobAction) -> int:
        return sum(b.size for b in self._unique().values() if b.action is action)

    def count_for(self, action: BlobAction) -> int:
        return sum(1 for b in self._unique().values() if b.action is action)

    @property
    def total_bytes(self) -> int:
        return sum(b.size for b in self._unique().values())

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "tags": [
                {
                    "source": tag.source_ref,
                    "destination_tag": tag.destination_tag,
                    "digest": tag.top.digest,
                    "media_type": tag.top.media_type,
                    "format": str(tag.format),
                    "already_there": tag.already_there,
                    "replaces": tag.replaces,
                    "blobs": [
                        {"digest": b.descriptor.digest, "size": b.size, "role": b.role,
                         "media_type": b.descriptor.media_type, "action": str(b.action)}
                        for b in tag.blobs
                    ],
                }
                for tag in self.tags
            ],
            "blob_count": self.blob_count,
            "total_bytes": self.total_bytes,
            "bytes_to_copy": self.bytes_for(BlobAction.COPY),
            "bytes_to_mount": self.bytes_for(BlobAction.MOUNT),
            "bytes_skipped": self.bytes_for(BlobAction.SKIP),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class CopyResult:
    plan: CopyPlan
    actions: dict[str, BlobAction]
    """What actually happened per blob (may differ from the plan if the destination changed)."""

    def bytes_for(self, action: BlobAction) -> int:
        sizes = {b.descriptor.digest: b.size for t in self.plan.tags for b in t.blobs}
        return sum(sizes.get(d, 0) for d, a in self.actions.items() if a is action)

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_json(),
            "copied_bytes": self.bytes_for(BlobAction.COPY),
            "mounted_bytes": self.bytes_for(BlobAction.MOUNT),
            "skipped_bytes": self.bytes_for(BlobAction.SKIP),
            "tags": [
                {"tag": t.destination_tag, "digest": t.top.digest} for t in self.plan.tags
            ],
        }


def _blob_roles(top: TopObject) -> list[tuple[Descriptor, BlobRole]]:
    """The blobs a manifest or cache index needs, layers first; child manifests excluded."""
    body = top.body
    if isinstance(body, Manifest):
        return [*((layer, "layer") for layer in body.layers), (body.config, "config")]
    layers: list[tuple[Descriptor, BlobRole]] = []
    configs: list[tuple[Descriptor, BlobRole]] = []
    for child in body.manifests:
        if child.media_type in mt.TOP_LEVEL_TYPES:
            continue
        if child.media_type == mt.BUILDKIT_CACHE_CONFIG:
            configs.append((child, "config"))
        else:
            layers.append((child, "layer"))
    return layers + configs


async def _plan_tag(source: Store, reference: str, destination: Store,
                    destination_tag: str) -> TagCopy:
    document = await load_document(source, reference)
    top = document.top
    children: list[TopObject] = []
    needed = _blob_roles(top)
    if top.is_index:
        for child in top.children():
            if child.media_type in mt.TOP_LEVEL_TYPES:
                child_top = await source.get_manifest(child.digest)
                children.append(child_top)
                needed.extend(_blob_roles(child_top))
    planned: list[PlannedBlob] = []
    seen: set[str] = set()
    for descriptor, role in needed:
        if descriptor.digest in seen:
            continue
        seen.add(descriptor.digest)
        action = await planned_action(source, destination, descriptor)
        planned.append(PlannedBlob(descriptor, role, action))
    already = False
    replaces: str | None = None
    try:
        current = await destination.resolve(destination_tag)
        already = current.digest == top.digest
        replaces = None if already else current.digest
    except NotFound:
        pass
    return TagCopy(reference, destination_tag, top, document.format, tuple(planned),
                   tuple(children), already, replaces)


async def plan_copy(source: Store, references: list[str], destination: Store,
                    destination_tag: str | None = None) -> CopyPlan:
    """What copying ``references`` (tags or digests) of ``source`` into ``destination`` does.

    ``destination_tag`` renames a single tag; by default each tag keeps its name.
    """
    if destination_tag is not None:
        validate_tag(destination_tag)
        if len(references) != 1:
            raise InvalidInput("a destination tag needs exactly one source tag")
    tags: list[TagCopy] = []
    for reference in references:
        name = destination_tag or reference
        if name.startswith("sha256:"):
            raise InvalidInput(f"{reference} is a digest; name a destination tag")
        tags.append(await _plan_tag(source, reference, destination, name))
    notes = [f"{planned.source_ref}: inline cache, copied as its image"
             for planned in tags if planned.format is CacheFormat.INLINE]
    return CopyPlan(source.location, destination.location, tuple(tags), tuple(notes))


async def apply_copy(plan: CopyPlan, source: Store, destination: Store, *,
                     sink: ProgressSink = no_progress, cancel: CancelToken | None = None,
                     concurrency: int = DEFAULT_CONCURRENCY) -> CopyResult:
    """Execute ``plan``: blobs (layers, then configs), child manifests, then each tag."""
    cancel = cancel or CancelToken()
    layers = [b.descriptor for t in plan.tags for b in t.blobs if b.role == "layer"]
    configs = [b.descriptor for t in plan.tags for b in t.blobs if b.role != "layer"]
    actions = await transfer_blobs(source, destination, layers, sink=sink, cancel=cancel,
                                   task="layers", concurrency=concurrency)
    actions.update(await transfer_blobs(source, destination, configs, sink=sink, cancel=cancel,
                                        task="configs", concurrency=concurrency))
    for tag in plan.tags:
        cancel.check()
        await _put_tag(tag, source, destination, actions, sink=sink, cancel=cancel)
        sink(Progress("manifests", 1, 1, unit="manifests", detail=tag.destination_tag))
    return CopyResult(plan, actions)


async def _put_tag(tag: TagCopy, source: Store, destination: Store,
                   actions: dict[str, BlobAction], *, sink: ProgressSink,
                   cancel: CancelToken) -> None:
    """Child manifests, then the tag. A store that finds blobs below the manifest gone when it
    is about to tag it (a gc ran meanwhile) refuses with :class:`BlobsMissing`; the blobs are
    then put back and the tag tried again, so the tag never names a missing blob."""
    blobs = {b.descriptor.digest: b.descriptor for b in tag.blobs}
    for attempt in range(1, TAG_ATTEMPTS + 1):
        try:
            for child in tag.children:
                await destination.put_manifest(child, None)
            await destination.put_manifest(tag.top, tag.destination_tag)
            return
        except BlobsMissing as gone:
            if attempt == TAG_ATTEMPTS:
                raise
            again = [blobs[digest] for digest in gone.digests if digest in blobs]
            actions.update(await transfer_blobs(source, destination, again, sink=sink,
                                                cancel=cancel, task="blobs"))


async def copy_cache(source: Store, references: list[str], destination: Store,
                     destination_tag: str | None = None, *, sink: ProgressSink = no_progress,
                     cancel: CancelToken | None = None) -> CopyResult:
    """Plan and apply in one call (tests, scripts)."""
    plan = await plan_copy(source, references, destination, destination_tag)
    return await apply_copy(plan, source, destination, sink=sink, cancel=cancel)
