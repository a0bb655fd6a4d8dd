"""Copies through gha: gha → directory → registry keeps the cache config's records and every
diffID; registry → gha with the runtime token writes entries the emulator serves back identical
(the index byte for byte what BuildKit wrote)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

import pytest

from cachetui.buildkit.annotated import parse_annotated
from cachetui.ops.copy import copy_cache
from cachetui.ops.load import load_document
from cachetui.store.layout import LayoutStore
from cachetui.store.registry import RegistrySession
from tests.gha_emulator.emulator import GitHubEmulator
from tests.gha_emulator.fixture import MAIN, REPOSITORY, gha_dir, load_dump
from tests.gha_support import gha_store
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, unique_repo

pytestmark = pytest.mark.registry
INDEX = "index-buildkit-1-f921bd05#1"


async def test_gha_directory_registry_and_back_into_gha(
        tmp_path: Path, registry: RunningRegistry, gha_emulator: GitHubEmulator) -> None:
    load_dump(gha_emulator, "v2-max")
    original = (gha_dir("v2-max") / "entries" / quote(INDEX, safe="")).read_bytes()
    config = parse_annotated(original)
    gha = gha_store(gha_emulator)
    directory = LayoutStore(tmp_path / "dir", create=True)
    try:
        await copy_cache(gha, [f"buildkit@{MAIN}"], directory, "c")
        async with RegistrySession(fast_settings()) as session:
            remote = session.store(registry.host, unique_repo("gha"))
            await copy_cache(directory, ["c"], remote, "c")
            document = await load_document(remote, "c")
            assert document.config is not None
            assert document.config.records == config.records
            assert sorted(document.diff_ids.values()) == sorted(
                layer.annotations.diff_id or "" for layer in config.layers
                if layer.annotations is not None)
            # Seed an empty repository's cache from the registry.
            repo = gha_emulator.repository(REPOSITORY)
            for entry in list(repo.entries):
                gha_emulator.delete_entry(repo, entry)
            await gha.inventory(refresh=True)
            await copy_cache(remote, ["c"], gha, "buildkit")
    finally:
        await gha.aclose()
    written = {e.key: gha_emulator.entry_bytes(e) for e in repo.committed()}
    assert written[INDEX] == original
    blobs = {k: v for k, v in written.items() if k.startswith("buildkit-blob-1-")}
    assert len(blobs) == 9
    for key, data in blobs.items():
        assert key == "buildkit-blob-1-sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("version", [1, 2])
async def test_a_second_write_is_the_next_generation(gha_emulator: GitHubEmulator,
                                                     tmp_path: Path, version: int) -> None:
    load_dump(gha_emulator, "v2-min")
    gha = gha_store(gha_emulator, version=version)
    directory = LayoutStore(tmp_path / "dir", create=True)
    try:
        await copy_cache(gha, [f"buildkit@{MAIN}"], directory, "c")
        await copy_cache(directory, ["c"], gha, "buildkit")
        inventory = await gha.inventory(refresh=True)
    finally:
        await gha.aclose()
    cache = inventory.caches[0]
    assert [e.key for _, e in cache.generations] == ["index-buildkit-1-f921bd05#1",
                                                     "index-buildkit-1-f921bd05#2"]
    assert len(inventory.blobs) == 3  # every blob was there already: none uploaded again
    data = {e.key: gha_emulator.entry_bytes(e) for e in gha_emulator.repository(
        REPOSITORY).committed()}
    assert data["index-buildkit-1-f921bd05#2"] == data["index-buildkit-1-f921bd05#1"]


async def test_writes_go_to_azurite_through_sas_urls(gha_emulator_azurite: GitHubEmulator,
                                                     tmp_path: Path) -> None:
    """Our uploads (Put Blob, and Put Block + Put Block List over one block) land in Azurite and
    read back identical."""
    from cachetui.store.gha import runtime

    emulator = gha_emulator_azurite
    load_dump(emulator, "v2-max")
    original = (gha_dir("v2-max") / "entries" / quote(INDEX, safe="")).read_bytes()
    gha = gha_store(emulator)
    directory = LayoutStore(tmp_path / "dir", create=True)
    small_blocks = pytest.MonkeyPatch()
    small_blocks.setattr(runtime, "BLOCK_SIZE", 256 * 1024)
    try:
        await copy_cache(gha, [f"buildkit@{MAIN}"], directory, "c")
        repo = emulator.repository(REPOSITORY)
        for entry in list(repo.entries):
            emulator.delete_entry(repo, entry)
        await gha.inventory(refresh=True)
        await copy_cache(directory, ["c"], gha, "buildkit")
    finally:
        small_blocks.undo()
        await gha.aclose()
    written = {e.key: emulator.entry_bytes(e) for e in repo.committed()}
    assert written[INDEX] == original
    assert len(written) == 10
    for key, data in written.items():
        if key.startswith("buildkit-blob-1-"):
            assert key == "buildkit-blob-1-sha256:" + hashlib.sha256(data).hexdigest()
    assert emulator.blobs.blobs == {}
