"""Copy and re-export with the real docker-registry: round trips, mounts, cross-registry streams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.oci.mediatypes import Compression
from cachetui.ops.copy import copy_cache
from cachetui.ops.load import load_document
from cachetui.ops.reexport import ReexportSettings, reexport_cache
from cachetui.ops.transfer import BlobAction
from cachetui.store.layout import LayoutStore
from cachetui.store.registry.session import RegistrySession
from tests.fixtures import fixture_dir
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, unique_repo

pytestmark = pytest.mark.registry


@pytest.mark.parametrize("name", ["gzip", "docker-list", "oci-index", "docker-list-after-variants"])
async def test_round_trip_directory_registry_registry_directory(
        tmp_path: Path, registry: RunningRegistry, registry_nodelete: RunningRegistry,
        name: str) -> None:
    source = LayoutStore(fixture_dir("buildkit-variants", name))
    digest = (await source.resolve("latest")).digest
    async with RegistrySession(fast_settings()) as session:
        first = session.store(registry.host, unique_repo("copy"))
        second = session.store(registry.host, unique_repo("copy"))
        other = session.store(registry_nodelete.host, unique_repo("copy"))
        pushed = await copy_cache(source, ["latest"], first, "c")
        assert set(pushed.actions.values()) == {BlobAction.COPY}
        mounted = await copy_cache(first, ["c"], second)
        assert set(mounted.actions.values()) == {BlobAction.MOUNT}
        streamed = await copy_cache(second, ["c"], other)
        assert set(streamed.actions.values()) == {BlobAction.COPY}
        again = await copy_cache(second, ["c"], other)
        assert set(again.actions.values()) == {BlobAction.SKIP}
        back = LayoutStore(tmp_path / "back", create=True)
        await copy_cache(other, ["c"], back, "latest")
        for store in (first, second, other):
            assert (await store.resolve("c")).digest == digest
    assert (await back.resolve("latest")).digest == digest
    reach = back.reachability_sync()
    assert not reach.missing and not reach.problems


async def test_reexport_between_registries_matches_the_directory_result(
        tmp_path: Path, registry: RunningRegistry) -> None:
    settings = ReexportSettings(compression=Compression.ZSTD, image_manifest=False)
    local = LayoutStore(tmp_path / "local", create=True)
    expected = await reexport_cache(LayoutStore(fixture_dir("buildkit-variants", "gzip")),
                                    "latest", local, "z", settings)
    async with RegistrySession(fast_settings()) as session:
        source = session.store(registry.host, unique_repo("rx"))
        target = session.store(registry.host, unique_repo("rx"))
        await copy_cache(LayoutStore(fixture_dir("buildkit-variants", "gzip")), ["latest"], source)
        result = await reexport_cache(source, "latest", target, "z", settings)
        assert result.top.digest == expected.top.digest
        assert result.verified_layers == 9
        document = await load_document(target, "z")
        assert document.top.raw == expected.top.raw
        # And back into a directory, unchanged.
        back = LayoutStore(tmp_path / "back", create=True)
        await copy_cache(target, ["z"], back)
        assert (await back.resolve("z")).digest == expected.top.digest


def test_cli_copy_and_reexport_with_a_registry(tmp_path: Path, registry: RunningRegistry,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    repo = f"{registry.host}/{unique_repo('cli')}"
    source = fixture_dir("buildkit-variants", "oci-index")
    assert main(["copy", str(source), f"{repo}:cache", "--json"]) == 0
    pushed = json.loads(capsys.readouterr().out)
    assert main(["reexport", f"{repo}:cache", f"{repo}:ecr", "--image-manifest", "true",
                 "--json"]) == 0
    converted = json.loads(capsys.readouterr().out)
    assert converted["plan"]["format"] == "image-manifest"
    assert main(["copy", f"{repo}:ecr", str(tmp_path / "d")]) == 0
    layout = LayoutStore(tmp_path / "d")
    assert layout.get_manifest_sync("ecr").digest == converted["digest"] != pushed["tags"][0]["digest"]
    gzip_top = LayoutStore(fixture_dir("buildkit-variants", "gzip")).get_manifest_sync("latest")
    assert converted["digest"] == gzip_top.digest


async def test_reexport_into_a_registry_sends_a_layer_again_when_a_chunk_breaks(
        tmp_path: Path, registry: RunningRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-encoded layers go up from their temp file, which is opened again after a 503."""
    from cachetui.ops import transfer
    from tests.fault_transport import Faults, status

    monkeypatch.setattr(transfer, "BLOB_RETRY_DELAY", 0.01)
    settings = ReexportSettings(compression=Compression.ZSTD, image_manifest=False)
    local = LayoutStore(tmp_path / "local", create=True)
    expected = await reexport_cache(LayoutStore(fixture_dir("buildkit-variants", "gzip")),
                                    "latest", local, "z", settings)
    faults = Faults()
    faults.add("PATCH", "/blobs/uploads/", status(503), times=2)
    tiny = fast_settings(monolithic_limit=16 * 1024, upload_chunk=16 * 1024)
    async with RegistrySession(tiny, transport=faults) as session:
        target = session.store(registry.host, unique_repo("rx-retry"))
        result = await reexport_cache(LayoutStore(fixture_dir("buildkit-variants", "gzip")),
                                      "latest", target, "z", settings)
        assert result.top.digest == expected.top.digest and result.verified_layers == 9
        assert faults.count("PATCH", "/blobs/uploads/") > 2  # the two refused, then the rest
