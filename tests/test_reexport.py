"""Re-export through the real codec pipeline, checked against BuildKit's own variants."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from cachetui.buildkit.analysis import analyse
from cachetui.buildkit.diff import diffid_chains, normalised_records
from cachetui.buildkit.document import CacheDocument, CacheFormat
from cachetui.demo.generator import CacheShape, write_cache
from cachetui.errors import Cancelled, DigestMismatch, InvalidInput
from cachetui.oci import mediatypes as mt
from cachetui.oci.mediatypes import Compression
from cachetui.oci.models import Descriptor
from cachetui.ops import reexport as reexport_module
from cachetui.ops.load import load_document
from cachetui.ops.progress import CancelToken, Progress
from cachetui.ops.recompress import Encoding, recompress_layer
from cachetui.ops.reexport import ReexportSettings, apply_reexport, plan_reexport, reexport_cache
from cachetui.present.plans import describe_reexport_plan, describe_reexport_result
from cachetui.store.layout import LayoutStore
from tests.fixtures import fixture_dir


def variants(name: str) -> LayoutStore:
    return LayoutStore(fixture_dir("buildkit-variants", name))


async def load(store: LayoutStore, tag: str = "latest") -> CacheDocument:
    return await load_document(store, tag)


@pytest.mark.parametrize("target", ["zstd", "uncompressed"])
async def test_reference_reexport_matches_buildkits_variant(tmp_path: Path, target: str) -> None:
    out = LayoutStore(tmp_path / "out", create=True)
    result = await reexport_cache(variants("gzip"), "latest", out, "latest",
                                  ReexportSettings(compression=Compression(target)))
    assert result.verified_layers == 9
    mine = analyse(await load(out))
    buildkit = analyse(await load(variants(target)))
    source = await load(variants("gzip"))
    # Records (inputs, results, createdAt) equal once layer indices become diffID chains.
    assert normalised_records(mine) == normalised_records(buildkit)
    # Same parent structure and diffIDs.
    assert sorted(diffid_chains(mine)) == sorted(diffid_chains(buildkit))
    assert mine.document.diff_ids.values() and set(mine.document.diff_ids.values()) == set(
        buildkit.document.diff_ids.values())
    for layer in mine.document.layers:
        assert layer.media_type == mt.layer_media_type(Compression(target), oci=True)
        assert layer.annotation(mt.ANNOTATION_CREATED) is not None  # kept (BuildKit drops it)
    created = {d.annotation(mt.ANNOTATION_UNCOMPRESSED): d.annotation(mt.ANNOTATION_CREATED)
               for d in source.layers}
    assert {d.annotation(mt.ANNOTATION_UNCOMPRESSED): d.annotation(mt.ANNOTATION_CREATED)
            for d in mine.document.layers} == created
    if target == "uncompressed":
        assert [d.digest for d in mine.document.layers] == [
            d.digest for d in buildkit.document.layers]
        assert mine.document.config_raw == buildkit.document.config_raw


async def test_output_is_deterministic(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        out = LayoutStore(tmp_path / name, create=True)
        result = await reexport_cache(variants("gzip"), "latest", out, "t",
                                      ReexportSettings(compression=Compression.ZSTD, level=5))
        digests.append((result.top.digest, result.config_digest, sorted(result.replaced.values())))
    assert digests[0] == digests[1]
    # gzip too (fixed header: mtime 0, no name), via another source form: same bytes.
    again = []
    for name, source in (("c", "gzip"), ("d", "docker-list")):
        out = LayoutStore(tmp_path / name, create=True)
        result = await reexport_cache(variants(source), "latest", out, "t",
                                      ReexportSettings(compression=Compression.GZIP, force=True,
                                                       image_manifest=True))
        again.append(result.top.digest)
        for new in result.replaced.values():
            header = (tmp_path / name / "blobs" / "sha256" / new[7:]).read_bytes()[:10]
            assert header[4:8] == b"\0\0\0\0" and not header[3] & 0x08  # mtime 0, no name
    assert again[0] == again[1]


async def test_docker_list_to_image_manifest_and_oci_to_docker(tmp_path: Path) -> None:
    out = LayoutStore(tmp_path / "o", create=True)
    await reexport_cache(variants("docker-list"), "latest", out, "im",
                         ReexportSettings(image_manifest=True))
    converted = await load(out, "im")
    assert converted.format is CacheFormat.IMAGE_MANIFEST
    assert converted.top.raw == (await load(variants("gzip"))).top.raw
    await reexport_cache(variants("gzip"), "latest", out, "docker",
                         ReexportSettings(oci_mediatypes=False))
    docker = await load(out, "docker")
    assert docker.format is CacheFormat.DOCKER_LIST
    assert docker.top.raw == (await load(variants("docker-list"))).top.raw
    await reexport_cache(variants("gzip"), "latest", out, "dz",
                         ReexportSettings(compression=Compression.ZSTD, oci_mediatypes=False))
    zstd_docker = await load(out, "dz")
    assert {d.media_type for d in zstd_docker.layers} == {mt.DOCKER_LAYER_ZSTD}


async def test_docker_image_manifest_is_refused_before_writing(tmp_path: Path) -> None:
    out = LayoutStore(tmp_path / "o", create=True)
    with pytest.raises(InvalidInput, match="OCI mediatypes are required"):
        await plan_reexport(variants("gzip"), "latest", out, "x",
                            ReexportSettings(oci_mediatypes=False, image_manifest=True))
    assert not (tmp_path / "o").exists()


async def test_min_on_a_max_cache_keeps_the_three_final_layers(tmp_path: Path) -> None:
    out = LayoutStore(tmp_path / "o", create=True)
    source = analyse(await load(variants("gzip")))
    plan = await plan_reexport(variants("gzip"), "latest", out, "min",
                               ReexportSettings(minimal=True, compression=Compression.ZSTD))
    assert len(plan.of("drop")) == 6 and len(plan.of("re-encode")) == 3
    await reexport_cache(variants("gzip"), "latest", out, "min",
                         ReexportSettings(minimal=True, compression=Compression.ZSTD))
    result = analyse(await load(out, "min"))
    assert len(result.layers) == 3
    assert {info.diff_id for info in result.layers} == {
        info.diff_id for info in source.layers if info.digest in source.minmax.min_digests}
    assert result.record_count == source.record_count
    assert result.records_with_results == 3


async def test_plan_counts_layers_and_bytes(tmp_path: Path) -> None:
    out = LayoutStore(tmp_path / "o", create=True)
    plan = await plan_reexport(variants("gzip-after-variants"), "latest", out, None,
                               ReexportSettings(compression=Compression.GZIP))
    # the one uncompressed layer has a gzip twin (same diffID): reused, not re-encoded
    assert len(plan.of("reuse")) == 1 and len(plan.of("keep")) == 9
    assert plan.bytes_in == 0 and plan.to_json()["re_encode"] == 0
    plan = await plan_reexport(variants("gzip-after-variants"), "latest", out, None,
                               ReexportSettings(compression=Compression.ZSTD))
    assert len(plan.of("re-encode")) == 10 and plan.bytes_in == 2_335_735
    assert plan.destination_tag == "latest"


LAYER_4_TAR = "sha256:059211bde7a256771064c8ad3da55a0ef1debcd81a0f6207696aff4f03db20dc"
LAYER_4_GZIP = "sha256:72033fbfcfd7527b1875a92b78fc2c6633d5ecd13bcdb6ef1386699110d03fa4"
"""gzip-after-variants holds layer 4 twice: as a tar and as gzip, one diffID (fixture README)."""


def _record_measured(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The digests of the layers verify decodes, in order (``measure`` still does its work)."""
    measured: list[str] = []
    real_measure = reexport_module.measure  # type: ignore[attr-defined]

    async def spy(store: Any, descriptor: Descriptor, cancel: Any = None) -> tuple[int, str]:
        measured.append(descriptor.digest)
        return await real_measure(store, descriptor, cancel)

    monkeypatch.setattr(reexport_module, "measure", spy)
    return measured


async def test_a_blob_of_the_target_compression_with_the_same_diff_id_is_reused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14 found 15: re-export to gzip made a new gzip blob of layer 4's tar although the
    cache already holds layer 4 in gzip; the plan says the reuse, and the reused blob is still
    decoded and checked against its diffID."""
    source = variants("gzip-after-variants")
    out = LayoutStore(tmp_path / "o", create=True)
    plan = await plan_reexport(source, "latest", out, "z",
                               ReexportSettings(compression=Compression.GZIP))
    reused = plan.of("reuse")
    assert [(layer.descriptor.digest, layer.reuses and layer.reuses.digest)
            for layer in reused] == [(LAYER_4_TAR, LAYER_4_GZIP)]
    assert not plan.of("re-encode") and plan.to_json()["reuse"] == 1
    assert [entry["reuses"] for entry in plan.to_json()["layers"]
            if entry["action"] == "reuse"] == [LAYER_4_GZIP]
    assert f"layer {LAYER_4_TAR[7:19]} uses {LAYER_4_GZIP[7:19]}" in describe_reexport_plan(plan)
    measured = _record_measured(monkeypatch)
    result = await apply_reexport(plan, source, out)
    written = {d.digest for d in (await load(out, "z")).layers}
    source_blobs = {d.digest for d in (await load(source)).layers}
    assert LAYER_4_GZIP in written and LAYER_4_TAR not in written
    assert written == source_blobs - {LAYER_4_TAR}  # no new blob
    assert LAYER_4_GZIP in measured  # verified by decoding, as every kept layer
    assert result.verified_layers == 9 and result.replaced == {LAYER_4_TAR: LAYER_4_GZIP}
    assert "0 layers re-encoded" in describe_reexport_result(result, 1.0)
    # forced: every layer is re-encoded, nothing is reused
    forced = await plan_reexport(source, "latest", out, "f",
                                 ReexportSettings(compression=Compression.GZIP, force=True))
    assert not forced.of("reuse") and len(forced.of("re-encode")) == 10


async def test_a_reexport_run_again_into_the_same_tag_reuses_the_destinations_blobs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The destination tag already names a cache with these layers in the target compression (the
    same re-export, run again): the plan reuses them instead of re-encoding, and verify still
    decodes each against its diffID."""
    out = LayoutStore(tmp_path / "o", create=True)
    settings = ReexportSettings(compression=Compression.ZSTD)
    first = await reexport_cache(variants("gzip"), "latest", out, "z", settings)
    plan = await plan_reexport(variants("gzip"), "latest", out, "z", settings)
    assert not plan.of("re-encode") and len(plan.of("reuse")) == 9
    assert all(layer.reuses_destination for layer in plan.of("reuse"))
    assert {entry["reuses_from"] for entry in plan.to_json()["layers"]} == {"destination"}
    assert "in the destination's cache" in describe_reexport_plan(plan)
    staged: list[object] = []
    monkeypatch.setattr(LayoutStore, "stage_blob_sync", lambda self: staged.append(self))
    measured = _record_measured(monkeypatch)
    again = await apply_reexport(plan, variants("gzip"), out)
    assert again.top.digest == first.top.digest and not staged
    assert sorted(measured) == sorted(set(first.replaced.values()))
    # another tag, or forced: nothing of the destination is reused
    other = await plan_reexport(variants("gzip"), "latest", out, "other", settings)
    forced = await plan_reexport(variants("gzip"), "latest", out, "z",
                                 ReexportSettings(compression=Compression.ZSTD, force=True))
    assert len(other.of("re-encode")) == 9 and len(forced.of("re-encode")) == 9


async def test_reencoded_blobs_are_written_once_in_place_in_a_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory destination gets each re-encoded blob written straight into its blobs/
    directory (not to a temp file that is read back, hashed again and copied); each verifies
    and no temp file is left."""
    put: list[str] = []
    real_put = LayoutStore.put_blob

    async def spy(self: LayoutStore, descriptor: Descriptor, chunks: Any) -> None:
        put.append(descriptor.digest)
        await real_put(self, descriptor, chunks)

    monkeypatch.setattr(LayoutStore, "put_blob", spy)
    out = LayoutStore(tmp_path / "o", create=True)
    result = await reexport_cache(variants("gzip"), "latest", out, "z",
                                  ReexportSettings(compression=Compression.ZSTD))
    new = set(result.replaced.values())
    assert len(new) == 9 and not new & set(put)
    for layer in (await load(out, "z")).layers:
        assert out.has_verified_blob_sync(layer)
        assert (tmp_path / "o" / "blobs" / "sha256" / layer.digest[7:]).stat().st_mode & 0o222 == 0
    assert out.scan_leftovers_sync() == []


async def test_wrong_diff_id_in_the_source_is_an_error(tmp_path: Path) -> None:
    # A layer whose containerd.io/uncompressed lies: re-encoding must not carry the lie on.
    store = variants("gzip")
    document = await load(store)
    layer = document.layers[0]
    forged = Descriptor(media_type=layer.media_type, digest=layer.digest, size=layer.size,
                        annotations={mt.ANNOTATION_UNCOMPRESSED: "sha256:" + "0" * 64})
    from cachetui.buildkit.rewrite import rewrite_document
    from cachetui.ops.reexport import verify_output

    rewritten = rewrite_document(document, {})
    with pytest.raises(DigestMismatch, match="verification failed"):
        await verify_output(store, rewritten, {layer.digest: "sha256:" + "1" * 64},
                            cancel=CancelToken())
    encoded = await recompress_layer(store, forged, Encoding.of(Compression.ZSTD), tmp_path)
    assert encoded.diff_id == layer.annotation(mt.ANNOTATION_UNCOMPRESSED) != "sha256:" + "0" * 64
    encoded.path.unlink()


async def test_cancel_stops_and_leaves_the_tag_untouched(tmp_path: Path) -> None:
    cancel = CancelToken()

    def sink(progress: Progress) -> None:
        if progress.done > 0:
            cancel.cancel()

    out = LayoutStore(tmp_path / "o", create=True)
    with pytest.raises(Cancelled):
        await reexport_cache(variants("gzip"), "latest", out, "t",
                             ReexportSettings(compression=Compression.ZSTD), sink=sink,
                             cancel=cancel)
    assert not (tmp_path / "o" / "index.json").exists()


async def test_memory_is_flat_for_a_layer_that_decompresses_1000_to_1(tmp_path: Path) -> None:
    # 256 MiB of zeros gzip to ~250 KiB: decompressing a whole chunk at once would need 256 MiB.
    size = 256 * 1024 * 1024
    raw = gzip.compress(b"\0" * size, compresslevel=6, mtime=0)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    blobs = tmp_path / "src" / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (blobs / digest[7:]).write_bytes(raw)
    store = LayoutStore(tmp_path / "src", create=True)
    descriptor = Descriptor(media_type=mt.OCI_LAYER_GZIP, digest=digest, size=len(raw))
    del raw
    tracemalloc.start()
    try:
        encoded = await recompress_layer(store, descriptor, Encoding.of(Compression.ZSTD),
                                         tmp_path / "work")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert encoded.uncompressed_size == size
    assert encoded.diff_id == "sha256:" + hashlib.sha256(b"\0" * size).hexdigest()
    assert peak < 24 * 1024 * 1024, peak


async def test_layers_run_in_parallel_on_a_generated_cache(tmp_path: Path) -> None:
    write_cache(tmp_path / "src", "latest", CacheShape(layer_bytes=512 * 1024, stages=2))
    out = LayoutStore(tmp_path / "out", create=True)
    result = await reexport_cache(LayoutStore(tmp_path / "src"), "latest", out, "z",
                                  ReexportSettings(compression=Compression.ZSTD))
    source = analyse(await load(LayoutStore(tmp_path / "src")))
    mine = analyse(await load(out, "z"))
    assert normalised_records(mine) == normalised_records(source)
    assert result.verified_layers == source.layer_count


def test_encoding_levels_are_checked() -> None:
    with pytest.raises(InvalidInput):
        Encoding.of(Compression.GZIP, 12)
    assert str(Encoding.of(Compression.ZSTD)) == "zstd-3"
    assert asyncio.iscoroutinefunction(reexport_cache)


def test_abandoned_reexport_workdirs_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    """A killed re-export leaves its re-encoded layers behind; the next one removes them."""
    import os
    import subprocess
    import sys
    import time

    from cachetui.ops.reexport import ABANDONED_AFTER, WORKDIR_PREFIX, sweep_abandoned_workdirs

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(gone.stdout)  # exited: nothing runs under this pid now (barring reuse)
    old = time.time() - 2 * ABANDONED_AFTER

    def workdir(name: str, *, mtime: float) -> Path:
        path = tmp_path / name
        path.mkdir()
        (path / "layer.tmp").write_bytes(b"x" * 1000)
        os.utime(path / "layer.tmp", (mtime, mtime))
        os.utime(path, (mtime, mtime))
        return path

    abandoned = workdir(f"{WORKDIR_PREFIX}{dead_pid}-abc", mtime=old)
    recent = workdir(f"{WORKDIR_PREFIX}{dead_pid}-def", mtime=time.time())  # still written to
    live = workdir(f"{WORKDIR_PREFIX}{os.getppid()}-ghi", mtime=old)  # the test runner's parent
    unrelated = workdir("cachetui-reexport-notapid", mtime=old)
    assert sweep_abandoned_workdirs(tmp_path) == [abandoned]
    assert not abandoned.exists()
    assert recent.exists() and live.exists() and unrelated.exists()


async def test_layers_are_encoded_largest_first(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Codec slots are taken largest first, so a large layer does not run alone at the end."""
    started: list[int] = []
    real = recompress_layer

    async def spy(store: Any, descriptor: Descriptor, *args: Any, **kwargs: Any) -> Any:
        started.append(descriptor.size)
        return await real(store, descriptor, *args, **kwargs)

    monkeypatch.setattr(reexport_module, "recompress_layer", spy)
    source = variants("gzip")
    out = LayoutStore(tmp_path / "o", create=True)
    result = await reexport_cache(source, "latest", out, "t",
                                  ReexportSettings(compression=Compression.ZSTD))
    sizes = [layer.descriptor.size for layer in result.plan.of("re-encode")]
    assert len(set(sizes)) > 3  # the fixture's layers differ in size
    assert sorted(started, reverse=True) == started == sorted(sizes, reverse=True)
