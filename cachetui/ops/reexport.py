"""Re-export a cache: re-encode layers, switch media types or form, min-ify; then check it.

Plan first (:func:`plan_reexport`): which layers are re-encoded, kept or dropped, bytes in and the
expected bytes out. :func:`apply_reexport` then streams every re-encoded layer through the codec
pipeline (:mod:`cachetui.ops.recompress`, layers in parallel on all cores), moves kept layers
unchanged (:mod:`cachetui.ops.transfer`), writes the rewritten cache config
(:mod:`cachetui.buildkit.rewrite`) and the new manifest by digest, re-reads everything it wrote
(every config blob is a manifest layer, every blob verifies, every layer keeps its diffID) and
only then moves the tag. A failed check is an error and the tag is not touched.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from cachetui.buildkit.document import CacheDocument
from cachetui.buildkit.rewrite import Form, RewriteOptions, Rewritten, resolve_form, rewrite_document
from cachetui.errors import CachetuiError, DigestMismatch, InvalidInput, NoSpace, NotFound
from cachetui.oci import mediatypes as mt
from cachetui.oci.mediatypes import Compression
from cachetui.oci.models import Descriptor, TopObject
from cachetui.oci.reference import validate_tag
from cachetui.ops.heap import keep_freed_buffers
from cachetui.ops.load import load_document
from cachetui.ops.progress import CancelToken, ProgressSink, no_progress
from cachetui.ops.recompress import (
    EncodedLayer,
    Encoding,
    OutputLimitExceeded,
    file_chunks,
    recompress_layer,
)
from cachetui.ops.transfer import (
    DEFAULT_CONCURRENCY,
    ByteCounter,
    blob_present,
    put_blob_retrying,
    run_all,
    transfer_blobs,
)
from cachetui.ops.uncompressed import measure
from cachetui.store.base import StagedBlob, StagesBlobs, Store

LayerAction = Literal["re-encode", "reuse", "keep", "drop"]
"""``reuse``: the cache already holds this layer's content (same diffID) in the target
compression as another kept blob; the manifest names that blob instead of a re-encoded copy."""

ESTARGZ_UNCOMPRESSED_SIZE: Final = "io.containers.estargz.uncompressed-size"

_RATIO_TO_PLAIN = 1.6
"""Typical tar/gzip ratio for estimating ``uncompressed`` output when sizes are not measured."""


@dataclass(frozen=True, slots=True)
class ReexportSettings:
    """What the user asked for; ``None`` keeps what the source has."""

    compression: Compression | None = None
    level: int | None = None
    force: bool = False
    oci_mediatypes: bool | None = None
    image_manifest: bool | None = None
    minimal: bool = False

    @property
    def encoding(self) -> Encoding | None:
        return None if self.compression is None else Encoding.of(self.compression, self.level)

    @property
    def rewrite_options(self) -> RewriteOptions:
        return RewriteOptions(self.oci_mediatypes, self.image_manifest, self.minimal)


@dataclass(frozen=True, slots=True)
class LayerPlan:
    descriptor: Descriptor
    action: LayerAction
    compression: str
    """The source blob's compression."""
    expected_size: int
    """Estimated output size (exact for kept layers)."""
    plain_size: int | None = None
    """Uncompressed size when known (measured, or declared by an estargz annotation)."""
    reuses: Descriptor | None = None
    """For ``reuse``: the kept blob of the same diffID in the target compression."""
    reuses_destination: bool = False
    """The reused blob is one the destination tag's cache has now (a re-export run again)."""


@dataclass(frozen=True, slots=True)
class ReexportPlan:
    source: str
    source_ref: str
    destination: str
    destination_tag: str
    settings: ReexportSettings
    form: Form
    document: CacheDocument = field(repr=False)
    layers: tuple[LayerPlan, ...]
    dropped_results: int
    replaces: str | None = None
    """The digest the destination tag points at now (it will move to the re-export)."""

    def of(self, action: LayerAction) -> list[LayerPlan]:
        return [layer for layer in self.layers if layer.action == action]

    @property
    def bytes_in(self) -> int:
        """Bytes of the layers that are re-encoded."""
        return sum(layer.descriptor.size for layer in self.of("re-encode"))

    @property
    def expected_bytes_out(self) -> int:
        return sum(layer.expected_size for layer in self.layers if layer.action != "drop")

    @property
    def source_bytes(self) -> int:
        return sum(layer.descriptor.size for layer in self.layers)

    def to_json(self) -> dict[str, Any]:
        encoding = self.settings.encoding
        return {
            "source": f"{self.source}:{self.source_ref}",
            "destination": f"{self.destination}:{self.destination_tag}",
            "source_format": str(self.document.format),
            "format": str(self.form.format),
            "media_types": "oci" if self.form.oci else "docker",
            "compression": str(encoding) if encoding else None,
            "force": self.settings.force,
            "min": self.settings.minimal,
            "replaces": self.replaces,
            "layers": [
                {"digest": layer.descriptor.digest, "size": layer.descriptor.size,
                 "compression": layer.compression, "action": layer.action,
                 "expected_size": layer.expected_size,
                 "reuses": layer.reuses.digest if layer.reuses is not None else None,
                 "reuses_from": None if layer.reuses is None
                 else "destination" if layer.reuses_destination else "source"}
                for layer in self.layers
            ],
            "re_encode": len(self.of("re-encode")),
            "reuse": len(self.of("reuse")),
            "keep": len(self.of("keep")),
            "drop": len(self.of("drop")),
            "dropped_results": self.dropped_results,
            "bytes_in": self.bytes_in,
            "source_bytes": self.source_bytes,
            "expected_bytes_out": self.expected_bytes_out,
            "expected_is_estimate": bool(self.of("re-encode")),
        }


@dataclass(frozen=True, slots=True)
class ReexportResult:
    plan: ReexportPlan
    top: TopObject
    config_digest: str
    replaced: dict[str, str]
    """Old blob digest → new blob digest, for every re-encoded or reused layer."""
    bytes_written: int
    verified_layers: int

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_json(),
            "digest": self.top.digest,
            "media_type": self.top.media_type,
            "config_digest": self.config_digest,
            "replaced": self.replaced,
            "bytes_written": self.bytes_written,
            "verified_layers": self.verified_layers,
        }


def _needs_encoding(descriptor: Descriptor, settings: ReexportSettings) -> bool:
    if settings.compression is None:
        return False
    if settings.force:
        return True
    return mt.layer_compression(descriptor.media_type) is not settings.compression


def _estimate(descriptor: Descriptor, target: Compression, plain: int | None) -> int:
    source = mt.layer_compression(descriptor.media_type)
    if target is Compression.UNCOMPRESSED:
        return plain if plain is not None else int(descriptor.size * _RATIO_TO_PLAIN)
    if source is Compression.UNCOMPRESSED:
        return int(descriptor.size / _RATIO_TO_PLAIN)
    return descriptor.size


def _known_plain_size(descriptor: Descriptor, measured: dict[str, int]) -> int | None:
    if descriptor.digest in measured:
        return measured[descriptor.digest]
    declared = descriptor.annotation(ESTARGZ_UNCOMPRESSED_SIZE)
    if declared is not None and declared.isdigit():
        return int(declared)
    return None


def _target_twins(document: CacheDocument, kept: set[str],
                  settings: ReexportSettings) -> dict[tuple[str, bool], Descriptor]:
    """(diffID, nondistributable) → a kept blob already in the target compression (not when
    forced: then every layer is re-encoded at the asked level)."""
    if settings.compression is None or settings.force:
        return {}
    out: dict[tuple[str, bool], Descriptor] = {}
    for descriptor in document.layers:
        diff_id = document.diff_ids.get(descriptor.digest)
        if (diff_id is not None and descriptor.digest in kept
                and mt.layer_compression(descriptor.media_type) is settings.compression):
            key = (diff_id, mt.is_nondistributable(descriptor.media_type))
            out.setdefault(key, descriptor)
    return out


def _twin(descriptor: Descriptor, document: CacheDocument,
          twins: dict[tuple[str, bool], Descriptor]) -> Descriptor | None:
    diff_id = document.diff_ids.get(descriptor.digest)
    if diff_id is None:
        return None
    return twins.get((diff_id, mt.is_nondistributable(descriptor.media_type)))


async def _destination_twins(destination: Store, tag: str, settings: ReexportSettings
                             ) -> dict[tuple[str, bool], Descriptor]:
    """Layers of the cache the destination tag names now, in the target compression and present
    there intact: a re-export run again into the same tag reuses them instead of re-encoding
    (they are decoded and checked again in verify, like every kept layer)."""
    if settings.compression is None or settings.force:
        return {}
    try:
        existing = await load_document(destination, tag)
    except CachetuiError:
        return {}  # no tag, not a cache, unreadable: nothing to reuse
    candidates = _target_twins(existing, {d.digest for d in existing.layers}, settings)
    present = await asyncio.gather(*(blob_present(destination, d) for d in candidates.values()))
    return {key: d for (key, d), ok in zip(candidates.items(), present, strict=True) if ok}


async def plan_reexport(source: Store, reference: str, destination: Store,
                        destination_tag: str | None, settings: ReexportSettings, *,
                        uncompressed_sizes: dict[str, int] | None = None) -> ReexportPlan:
    """Read the source cache and decide what happens to each layer; writes nothing."""
    if settings.force and settings.compression is None:
        raise InvalidInput("--force needs --compression")
    settings.encoding  # noqa: B018 - validates the level early
    tag = validate_tag(destination_tag or reference)
    document = await load_document(source, reference)
    form = resolve_form(document, settings.rewrite_options)
    survivors = rewrite_document(document, {}, settings.rewrite_options)
    kept = set(survivors.blobs)
    layers: list[LayerPlan] = []
    seen: set[str] = set()
    sizes = uncompressed_sizes or {}
    twins = _target_twins(document, kept, settings)
    there = await _destination_twins(destination, tag, settings)
    for descriptor in document.layers:
        if descriptor.digest in seen:
            continue
        seen.add(descriptor.digest)
        compression = str(mt.layer_compression(descriptor.media_type))
        if descriptor.digest not in kept:
            layers.append(LayerPlan(descriptor, "drop", compression, 0))
        elif _needs_encoding(descriptor, settings):
            assert settings.compression is not None
            twin = _twin(descriptor, document, twins)
            if twin is not None:
                layers.append(LayerPlan(descriptor, "reuse", compression, 0, reuses=twin))
                continue
            twin = _twin(descriptor, document, there)
            if twin is not None:
                layers.append(LayerPlan(descriptor, "reuse", compression, twin.size,
                                        reuses=twin, reuses_destination=True))
                continue
            plain = _known_plain_size(descriptor, sizes)
            expected = _estimate(descriptor, settings.compression, plain)
            layers.append(LayerPlan(descriptor, "re-encode", compression, expected, plain))
        else:
            layers.append(LayerPlan(descriptor, "keep", compression, descriptor.size))
    try:
        replaces: str | None = (await destination.resolve(tag)).digest
    except NotFound:
        replaces = None
    return ReexportPlan(source.location, reference, destination.location, tag, settings, form,
                        document, tuple(layers), survivors.dropped_results, replaces)


WORKDIR_PREFIX: Final = "cachetui-reexport-"
"""Temp directories of re-encoded layers: ``cachetui-reexport-<pid>-<random>``."""


ABANDONED_AFTER: Final = 3600.0
"""Seconds without a write before a dead process's directory is swept (a process in another PID
namespace sharing the temp directory looks dead, but it keeps writing)."""


def sweep_abandoned_workdirs(parent: Path, *, now: float | None = None) -> list[Path]:
    """Delete the temp directories of re-exports whose process is gone (killed before it could
    clean up: re-encoded layers can be gigabytes). A live process's directory is never touched."""
    removed: list[Path] = []
    cutoff = (time.time() if now is None else now) - ABANDONED_AFTER
    try:
        candidates = list(parent.glob(f"{WORKDIR_PREFIX}*"))
    except OSError:
        return removed
    for path in candidates:
        pid_text = path.name[len(WORKDIR_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or path.is_symlink() or not path.is_dir():
            continue
        pid = int(pid_text)
        if pid == os.getpid() or _alive(pid) or _last_write(path) > cutoff:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _last_write(directory: Path) -> float:
    try:
        with os.scandir(directory) as entries:
            return max([directory.stat().st_mtime,
                        *(entry.stat(follow_symlinks=False).st_mtime for entry in entries)])
    except OSError:
        return float("inf")  # unreadable: leave it


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


TEMP_FILES_PER_CPU: Final = 2
"""Re-encoded layers waiting in the temp directory at once, per core (encoding or uploading)."""

_SOFT_BOUND_FACTOR: Final = 2
_SOFT_BOUND_SLACK: Final = 16 * 1024 * 1024


def worst_case_output(plain: int, target: Compression) -> int:
    """Most bytes an encoder can emit for ``plain`` input: stored/raw blocks plus their headers
    (deflate: 5 bytes per 64 KiB; zstd: 3 per 128 KiB) and the container."""
    if target is Compression.UNCOMPRESSED:
        return plain
    return plain + plain // 8192 + 4096


def temp_bound(layer: LayerPlan, target: Compression) -> int | None:
    """Temp bytes one re-encoded layer may take before it is checked further; None: measure
    first. Known plain size: its worst case. Unknown, compressed target: twice the blob plus
    16 MiB (re-encoding compressed data rarely grows it; a layer that passes this is measured,
    which checks its diffID, and re-encoded with the exact bound). Unknown, uncompressed target:
    nothing is written before the layer is measured."""
    if layer.plain_size is not None:
        return worst_case_output(layer.plain_size, target)
    if target is Compression.UNCOMPRESSED:
        return None
    return _SOFT_BOUND_FACTOR * layer.descriptor.size + _SOFT_BOUND_SLACK


def temp_space_needed(layers: list[LayerPlan], at_once: int) -> int:
    """Temp space for the largest layers that can wait in the temp directory at once."""
    sizes = sorted((max(layer.expected_size, layer.plain_size or 0) for layer in layers),
                   reverse=True)
    return sum(sizes[:at_once])


def check_free_space(directory: Path, needed: int) -> None:
    """Refuse to start when the temp directory cannot hold what re-encoding will write there."""
    directory.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise NoSpace(f"re-encoding needs about {needed} bytes of temporary space but only "
                      f"{free} are free (set TMPDIR to a larger file system)", where=str(directory))


async def _encode_bounded(source: Store, layer: LayerPlan, encoding: Encoding, workdir: Path,
                          where: str, *, cancel: CancelToken, on_bytes: Callable[[int], None],
                          cpu_slots: asyncio.Semaphore,
                          stage: Callable[[], StagedBlob] | None = None) -> EncodedLayer:
    """Re-encode one layer without letting its temp file grow unbounded; wrong diffID: an error.

    A layer whose output would pass :func:`temp_bound` (or whose bound is unknown) is first
    decoded without writing anything: that checks its diffID (a wrong one fails here, having
    written nothing) and gives its exact size, for a free-space check and an exact bound."""
    descriptor = layer.descriptor
    annotated = descriptor.annotation(mt.ANNOTATION_UNCOMPRESSED)
    here = f"{where}: layer {descriptor.digest[7:19]}"

    def wrong_diff_id(actual: str) -> DigestMismatch:
        return DigestMismatch(
            f"decompressed content is {actual[7:19]} but the cache says "
            f"{(annotated or '?')[7:19]} (containerd.io/uncompressed)", where=here)

    bound = temp_bound(layer, encoding.compression)
    for attempt in range(2):
        if bound is None:
            async with cpu_slots:
                plain, diff_id = await measure(source, descriptor, cancel)
            if annotated is not None and annotated != diff_id:
                raise wrong_diff_id(diff_id)
            bound = worst_case_output(plain, encoding.compression)
            await asyncio.to_thread(check_free_space, workdir, bound)
        try:
            async with cpu_slots:
                encoded = await recompress_layer(source, descriptor, encoding, workdir,
                                                 cancel=cancel, on_bytes=on_bytes if not attempt
                                                 else None, max_output=bound, stage=stage)
        except OutputLimitExceeded:
            if attempt:
                raise
            bound = None
            continue
        if annotated is not None and annotated != encoded.diff_id:
            await asyncio.to_thread(encoded.discard)
            raise wrong_diff_id(encoded.diff_id)
        return encoded
    raise AssertionError("unreachable")


def largest_first(layers: list[LayerPlan]) -> list[LayerPlan]:
    """The order layers take the codec slots in: largest first, so the last to finish are small
    (a large layer started last leaves the other cores idle while it alone runs)."""
    return sorted(layers, key=lambda layer: layer.descriptor.size, reverse=True)


async def _upload_file(destination: Store, layer: EncodedLayer, cancel: CancelToken) -> bool:
    """Put a re-encoded blob unless the destination has it; True if bytes were written.

    A blob staged in the destination is renamed into place: its digest was computed over exactly
    the bytes written to that file, so hashing them again would only repeat that."""
    if layer.staged is not None:
        staged = layer.staged
        return await asyncio.to_thread(staged.commit, layer.descriptor)
    try:
        if await blob_present(destination, layer.descriptor):
            return False
        await put_blob_retrying(destination, layer.descriptor, lambda: file_chunks(layer.path),
                                cancel=cancel, on_bytes=lambda _: None)
        return True
    finally:
        await asyncio.to_thread(layer.discard)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def apply_reexport(plan: ReexportPlan, source: Store, destination: Store, *,
                         sink: ProgressSink = no_progress, cancel: CancelToken | None = None,
                         workdir: Path | None = None, verify: bool = True,
                         concurrency: int = DEFAULT_CONCURRENCY) -> ReexportResult:
    """Execute ``plan``; see the module docstring for the order of writes."""
    cancel = cancel or CancelToken()
    encoding = plan.settings.encoding
    document = plan.document
    to_encode = plan.of("re-encode")
    to_keep = [layer.descriptor for layer in plan.of("keep")]
    replacements: dict[str, Descriptor] = {
        layer.descriptor.digest: _reused(layer) for layer in plan.of("reuse")}
    round_tripped: dict[str, str] = {}
    """Digest of a re-encoded blob → the diffID its bytes were decoded to while encoding."""
    written = 0
    counter = ByteCounter(sink, "re-encode", plan.bytes_in)
    cpus = os.cpu_count() or 2
    cpu_slots = asyncio.Semaphore(cpus)
    temp_slots = asyncio.Semaphore(TEMP_FILES_PER_CPU * cpus)
    parent = Path(workdir or tempfile.gettempdir())
    stage = destination.stage_blob_sync if isinstance(destination, StagesBlobs) else None

    await asyncio.to_thread(sweep_abandoned_workdirs, parent)
    if to_encode:
        await asyncio.to_thread(check_free_space, parent, temp_space_needed(
            to_encode, TEMP_FILES_PER_CPU * cpus))
        keep_freed_buffers()
    with tempfile.TemporaryDirectory(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-", dir=workdir) as tmp:

        async def encode(layer: LayerPlan) -> None:
            nonlocal written
            assert encoding is not None
            async with temp_slots:
                encoded = await _encode_bounded(source, layer, encoding, Path(tmp), plan.source,
                                                cancel=cancel, on_bytes=counter.add,
                                                cpu_slots=cpu_slots, stage=stage)
                if await _upload_file(destination, encoded, cancel):
                    written += encoded.size
            replacements[layer.descriptor.digest] = encoded.descriptor
            round_tripped[encoded.digest] = encoded.diff_id

        async def keep() -> None:
            nonlocal written
            actions = await transfer_blobs(source, destination, to_keep, sink=sink,
                                           cancel=cancel, task="copy", concurrency=concurrency)
            sizes = {d.digest: d.size for d in to_keep}
            written += sum(sizes[d] for d, a in actions.items() if a == "copy")

        await run_all([keep(), *(encode(layer) for layer in largest_first(to_encode))])

    cancel.check()
    rewritten = rewrite_document(document, replacements, plan.settings.rewrite_options)
    config = rewritten.config_descriptor
    if not await blob_present(destination, config):
        await destination.put_blob(config, _once(rewritten.config_raw))
    await destination.put_manifest(rewritten.top, None)
    verified = 0
    if verify:
        expected = _expected_diff_ids(document, replacements)
        verified = await verify_output(destination, rewritten, expected, cancel=cancel,
                                       sink=sink, already_decoded=round_tripped)
    cancel.check()
    await destination.put_manifest(rewritten.top, plan.destination_tag)
    return ReexportResult(plan, rewritten.top, config.digest,
                          {old: new.digest for old, new in replacements.items()},
                          written, verified)


def _reused(layer: LayerPlan) -> Descriptor:
    """The replacement naming a reused blob: its digest, size and type; the layer's own diffID
    (the same as the twin's) and creation time stay."""
    twin = layer.reuses
    assert twin is not None
    return Descriptor(media_type=twin.media_type, digest=twin.digest, size=twin.size)


def _expected_diff_ids(document: CacheDocument,
                       replacements: dict[str, Descriptor]) -> dict[str, str]:
    """New blob digest → the diffID its source layer had."""
    out: dict[str, str] = {}
    for digest, diff_id in document.diff_ids.items():
        new = replacements.get(digest)
        out[new.digest if new is not None else digest] = diff_id
    return out


async def verify_output(destination: Store, rewritten: Rewritten, expected: dict[str, str], *,
                        cancel: CancelToken, sink: ProgressSink = no_progress,
                        already_decoded: dict[str, str] | None = None) -> int:
    """Re-read what was written; raise :class:`DigestMismatch` on the first inconsistency.

    ``already_decoded`` maps blobs that were decoded while they were encoded (the output compared
    with the input, whose hash is the diffID, and stored under the digest of those very bytes)
    to that diffID: it is checked like a measured one, without decoding the blob again."""
    where = f"{destination.location}: re-exported cache {rewritten.top.digest[7:19]}"
    document = await load_document(destination, rewritten.top.digest)
    if document.top.raw != rewritten.top.raw or document.config_raw != rewritten.config_raw:
        raise DigestMismatch("verification failed: manifest or config differs from what was "
                             "written", where=where)
    config = document.config
    assert config is not None
    in_manifest = {d.digest for d in document.layers}
    for entry in config.layers:
        if entry.blob not in in_manifest:
            raise DigestMismatch(f"verification failed: config blob {entry.blob[7:19]} is not a "
                                 "manifest layer", where=where)
    unique: dict[str, Descriptor] = {}
    for descriptor in document.layers:
        unique.setdefault(descriptor.digest, descriptor)
    counter = ByteCounter(sink, "verify", sum(d.size for d in unique.values()))
    slots = asyncio.Semaphore(os.cpu_count() or 2)

    async def check(descriptor: Descriptor) -> None:
        decoded = (already_decoded or {}).get(descriptor.digest)
        if decoded is not None:
            diff_id = decoded
        else:
            async with slots:
                _, diff_id = await measure(destination, descriptor, cancel)
        counter.add(descriptor.size)
        annotated = descriptor.annotation(mt.ANNOTATION_UNCOMPRESSED)
        wanted = expected.get(descriptor.digest)
        if annotated is None or diff_id != annotated or (wanted is not None and wanted != diff_id):
            raise DigestMismatch(
                f"verification failed: layer {descriptor.digest[7:19]} decompresses to "
                f"{diff_id[7:19]}, expected diffID {(wanted or annotated or '?')[7:19]}",
                where=where)

    await run_all(check(descriptor)  # largest first, as in encoding
                  for descriptor in sorted(unique.values(), key=lambda d: d.size, reverse=True))
    return len(unique)


async def reexport_cache(source: Store, reference: str, destination: Store,
                         destination_tag: str | None, settings: ReexportSettings, *,
                         sink: ProgressSink = no_progress,
                         cancel: CancelToken | None = None) -> ReexportResult:
    """Plan and apply in one call (tests, scripts)."""
    plan = await plan_reexport(source, reference, destination, destination_tag, settings)
    return await apply_reexport(plan, source, destination, sink=sink, cancel=cancel)
