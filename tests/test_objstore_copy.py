"""Copy and re-export through s3 (moto) and azblob (Azurite): round trips re-read every blob."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cachetui.buildkit.annotated import oci_to_annotated, parse_annotated
from cachetui.buildkit.cacheconfig import CacheConfig
from cachetui.oci import mediatypes as mt
from cachetui.oci.mediatypes import Compression
from cachetui.ops.copy import copy_cache
from cachetui.ops.load import load_document
from cachetui.ops.reexport import ReexportSettings, reexport_cache
from cachetui.ops.transfer import BlobAction
from cachetui.store.base import Store
from cachetui.store.layout import LayoutStore
from cachetui.store.registry.session import RegistrySession
from tests.backend_fixtures import facts
from tests.fixtures import fixture_dir
from tests.objstore_procs import Azurite, Moto
from tests.objstore_servers import az_loaded, az_settings, s3_loaded, s3_store, unique_name
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, unique_repo

pytestmark = pytest.mark.registry


async def _reread_every_blob(store: Store, tag: str) -> int:
    """Stream every layer of ``tag`` (verified by the store) and return how many there were."""
    document = await load_document(store, tag)
    count = 0
    for descriptor in {d.digest: d for d in document.layers}.values():
        size = 0
        async for chunk in store.open_blob(descriptor):
            size += len(chunk)
        assert size == descriptor.size
        count += 1
    return count


async def test_registry_to_s3_to_directory_reproduces_the_cache(
        tmp_path: Path, moto: Moto, registry: RunningRegistry) -> None:
    source = LayoutStore(fixture_dir("buildkit", "local-max"))
    original = await load_document(source, "latest")
    s3 = s3_store(moto)
    async with RegistrySession(fast_settings()) as session:
        repo = session.store(registry.host, unique_repo("s3rt"))
        await copy_cache(source, ["latest"], repo, "c")
        result = await copy_cache(repo, ["c"], s3, "main")
        assert set(result.actions.values()) == {BlobAction.COPY}
        assert await s3.list_tags() == ["main"]
        raw = await s3.read_annotated("main")
        assert raw == oci_to_annotated(original)
        assert await _reread_every_blob(s3, "main") == 9
        again = await copy_cache(repo, ["c"], s3, "main")
        assert {a for d, a in again.actions.items() if d != again.plan.tags[0].top.digest} \
            >= {BlobAction.SKIP}
    back = LayoutStore(tmp_path / "back", create=True)
    await copy_cache(s3, ["main"], back, "latest")
    copied = await load_document(back, "latest")
    assert copied.config_raw == original.config_raw
    assert copied.config is not None and original.config is not None
    assert copied.config.records == original.config.records
    assert copied.top.digest == original.top.digest  # same form: BuildKit's exact bytes
    assert await _reread_every_blob(back, "latest") == 9
    await s3.aclose()


async def test_directory_to_azblob_to_registry_reproduces_the_cache(
        azurite: Azurite, registry: RunningRegistry) -> None:
    source = LayoutStore(fixture_dir("buildkit", "local-min"))
    original = await load_document(source, "latest")
    from cachetui.store.azblob import AzblobStore

    az = AzblobStore(az_settings(azurite, unique_name(), prefix="proj"))
    await copy_cache(source, ["latest"], az, "main")
    assert await az.list_tags() == ["main"]
    assert await az.read_annotated("main") == oci_to_annotated(original)
    assert await _reread_every_blob(az, "main") == 3
    async with RegistrySession(fast_settings()) as session:
        repo = session.store(registry.host, unique_repo("azrt"))
        await copy_cache(az, ["main"], repo, "c")
        copied = await load_document(repo, "c")
        assert copied.config_raw == original.config_raw
        assert copied.top.digest == original.top.digest
        assert await _reread_every_blob(repo, "c") == 3
    await az.aclose()


async def test_s3_fixture_copies_to_azblob_and_back_byte_exact(moto: Moto,
                                                               azurite: Azurite) -> None:
    s3 = s3_loaded(moto, "two-builds")
    az = await az_loaded(azurite, "min")
    await copy_cache(s3, ["main", "release"], az)
    for name in ("main", "release"):
        assert await az.read_annotated(name) == await s3.read_annotated(name)
    target = s3_store(moto)
    await copy_cache(az, ["release"], target)
    assert await target.read_annotated("release") == await s3.read_annotated("release")
    for store in (s3, az, target):
        await store.aclose()


async def test_s3_gzip_to_s3_zstd_reexport_keeps_every_diffid(moto: Moto) -> None:
    s3 = s3_loaded(moto, "max")
    before = parse_annotated(await s3.read_annotated("buildkit"))
    result = await reexport_cache(s3, "buildkit", s3, "zstd",
                                  ReexportSettings(compression=Compression.ZSTD))
    assert result.verified_layers == 9
    after = parse_annotated(await s3.read_annotated("zstd"))
    assert [(r.digest, r.inputs) for r in after.records] \
        == [(r.digest, r.inputs) for r in before.records]

    def result_diff_ids(config: CacheConfig) -> list[list[str | None]]:
        return [[config.layers[x.layer].annotations.diff_id  # type: ignore[union-attr]
                 for x in record.layers] for record in config.records]

    assert result_diff_ids(after) == result_diff_ids(before)
    old = {layer.annotations.diff_id for layer in before.layers if layer.annotations}
    new = {layer.annotations.diff_id for layer in after.layers if layer.annotations}
    assert old == new and len(new) == 9
    assert {layer.annotations.media_type for layer in after.layers if layer.annotations} \
        == {mt.OCI_LAYER_ZSTD}
    assert await _reread_every_blob(s3, "zstd") == 9
    raw = json.loads(await s3.read_annotated("zstd"))
    assert all(layer["annotations"]["createdAt"] for layer in raw["layers"])
    await s3.aclose()


async def test_a_manifest_is_never_written_before_its_blobs(moto: Moto) -> None:
    source = s3_loaded(moto, "min")
    target = s3_store(moto)
    top = await source.get_manifest("buildkit")
    document = await load_document(source, "buildkit")
    assert document.config_descriptor is not None
    await target.put_blob(document.config_descriptor,
                          source.open_blob(document.config_descriptor))
    from cachetui.errors import NotFound

    with pytest.raises(NotFound, match="manifest not written"):
        await target.put_manifest(top, "buildkit")
    assert await target.list_tags() == []
    for store in (source, target):
        await store.aclose()


def test_expected_facts_are_loaded() -> None:
    assert facts("s3", "max")["manifests"][0]["layerCount"] == 9


async def test_store_contract_basics_on_both_backends(moto: Moto, azurite: Azurite) -> None:
    """Tags are manifest names; delete_manifest(digest) removes every name on it, delete_tag one;
    blob sizes and reads match the manifest; an unknown name or blob is NotFound / None."""
    from cachetui.errors import NotFound
    from cachetui.oci.digest import Digest

    for store in (s3_loaded(moto, "multi-name", prefix="proj/"),
                  await az_loaded(azurite, "multi-name", prefix="proj")):
        assert await store.list_tags() == ["main", "pr-42"]
        main = await store.resolve("main")
        assert (await store.resolve("pr-42")).digest == main.digest
        top = await store.get_manifest(main.digest)
        assert top.digest == main.digest
        for layer in top.body.layers:  # type: ignore[union-attr]
            assert await store.blob_size(layer.blob_digest) == layer.size
        with pytest.raises(NotFound):
            await store.resolve("nope")
        assert await store.blob_size(Digest("sha256:" + "0" * 64)) is None
        await store.delete_tag("pr-42")
        assert await store.list_tags() == ["main"]
        await store.delete_manifest(Digest(main.digest))
        assert await store.list_tags() == []
        await store.aclose()
