"""Local cache directories: reading, verified atomic writes, index.json updates, discovery."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cachetui.errors import DigestMismatch, LayoutError, NotFound
from cachetui.oci import mediatypes as mt
from cachetui.oci.digest import Digest
from cachetui.oci.models import Descriptor
from cachetui.store import discovery
from cachetui.store.layout import LayoutStore
from tests.fixtures import fixture_dir


def writable_copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(fixture_dir("buildkit", name), target)
    for path in [target, *target.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return target


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_tags_resolve_with_both_annotations(tmp_path: Path) -> None:
    layout = writable_copy("local-multi-tag", tmp_path)
    store = LayoutStore(layout)
    assert sorted(await store.list_tags()) == ["feature-x", "main"]
    index = json.loads((layout / "index.json").read_text())
    entry = index["manifests"][0]
    entry["annotations"] = {mt.ANNOTATION_CONTAINERD_NAME: "named"}
    (layout / "index.json").write_text(json.dumps(index))
    assert (await store.resolve("named")).digest == entry["digest"]
    with pytest.raises(NotFound, match="no tag 'main'"):
        await store.resolve("main")


async def test_put_blob_verifies_before_the_blob_appears(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path / "new", create=True)
    data = b"x" * 3_000_000
    good = Descriptor(media_type=mt.OCI_LAYER_TAR, digest=Digest.of(data), size=len(data))
    await store.put_blob(good, chunks(data[:1_000_000], data[1_000_000:]))
    assert await store.blob_size(good.blob_digest) == len(data)
    assert (tmp_path / "new" / "oci-layout").read_bytes() == b'{"imageLayoutVersion":"1.0.0"}'
    wrong = Descriptor(media_type=mt.OCI_LAYER_TAR, digest=Digest.of(b"other"), size=len(data))
    with pytest.raises(DigestMismatch):
        await store.put_blob(wrong, chunks(data))
    assert await store.blob_size(wrong.blob_digest) is None
    leftovers = [p.name for p in (tmp_path / "new" / "blobs" / "sha256").iterdir()]
    assert leftovers == [good.blob_digest.hex]


async def test_open_blob_streams_verified_chunks(tmp_path: Path) -> None:
    layout = writable_copy("local-max", tmp_path)
    store = LayoutStore(layout)
    top = await store.get_manifest("latest")
    biggest = max(top.children(), key=lambda d: d.size)
    received = b"".join([chunk async for chunk in store.open_blob(biggest)])
    assert Digest.of(received) == biggest.digest
    blob = store.blob_path(biggest.digest)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    handed_over: list[bytes] = []

    async def drain() -> None:
        async for chunk in store.open_blob(biggest):
            handed_over.append(chunk)

    with pytest.raises(DigestMismatch):
        await drain()
    assert sum(map(len, handed_over)) < biggest.size  # the corrupt end never reached a consumer


async def test_put_manifest_replaces_only_its_own_tag(tmp_path: Path) -> None:
    layout = writable_copy("local-multi-tag", tmp_path)
    store = LayoutStore(layout)
    main = await store.get_manifest("main")
    before = json.loads((layout / "index.json").read_text())["manifests"]
    await store.put_manifest(main, "feature-x")
    after = json.loads((layout / "index.json").read_text())["manifests"]
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in after] == ["main",
                                                                                     "feature-x"]
    assert after[0] == before[0]
    assert after[1]["digest"] == main.digest
    await store.put_manifest(main, "copy")
    assert sorted(await store.list_tags()) == ["copy", "feature-x", "main"]
    await store.delete_tag("feature-x")
    assert sorted(await store.list_tags()) == ["copy", "main"]
    await store.delete_manifest(main.digest)
    assert await store.list_tags() == []
    assert not list(layout.glob(".cachetui-*")), "no temp files left behind"


async def test_read_only_fixture_directories_are_readable_without_a_lock_file() -> None:
    store = LayoutStore(fixture_dir("buildkit", "local-min"))
    assert await store.list_tags() == ["latest"]
    assert not (store.root / "index.json.lock").exists()


async def test_missing_index_and_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such directory"):
        await LayoutStore(tmp_path / "absent").list_tags()
    (tmp_path / "empty").mkdir()
    with pytest.raises(LayoutError, match=r"index\.json is missing"):
        await LayoutStore(tmp_path / "empty").list_tags()


async def test_ingest_leftovers_are_listed(tmp_path: Path) -> None:
    layout = writable_copy("local-min", tmp_path)
    leftover = layout / "ingest" / ("ab" * 32)
    leftover.mkdir(parents=True)
    (leftover / "data").write_bytes(b"partial")
    (leftover / "ref").write_text("layer-sha256:...")
    reach = await LayoutStore(layout).reachability()
    assert [(entry.name, entry.size) for entry in reach.ingest] == [("ab" * 32, 7)]


def test_discovery_finds_layouts_with_depth_limit_and_reports_unreadable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for relative in ("a/one", "a/b/two", "a/b/c/d/e/deep"):
        shutil.copytree(fixture_dir("buildkit", "local-min"), tmp_path / relative)
    (tmp_path / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str]) -> object:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = discovery.discover(tmp_path, max_depth=3)
    assert found.layouts == [tmp_path / "a/b/two", tmp_path / "a/one"]
    assert found.unreadable == [(tmp_path / "locked", "Permission denied")]
    deeper = discovery.discover(tmp_path, max_depth=6)
    assert tmp_path / "a/b/c/d/e/deep" in deeper.layouts


async def test_rewriting_a_tag_reproduces_buildkits_index_json_bytes(tmp_path: Path) -> None:
    layout = writable_copy("local-min", tmp_path)
    original = (layout / "index.json").read_bytes()
    store = LayoutStore(layout)
    await store.put_manifest(await store.get_manifest("latest"), "latest")
    assert (layout / "index.json").read_bytes() == original


def test_a_staged_blob_is_renamed_into_place_once_and_leaves_nothing_behind(
        tmp_path: Path) -> None:
    """Re-export writes a new blob straight into blobs/sha256 and commits it by digest: committed
    once, read-only, verified; a second copy of a blob already there is dropped; a size that
    does not match is refused and its temp file removed."""
    store = LayoutStore(tmp_path / "d", create=True)
    data = b"layer bytes" * 1000
    descriptor = Descriptor(media_type=mt.OCI_LAYER_TAR, digest=str(Digest.of(data)), size=len(data))
    staged = store.stage_blob_sync()
    assert staged.path.parent == store.blob_path(descriptor.digest).parent
    staged.file.write(data)
    assert staged.commit(descriptor) is True
    assert store.has_verified_blob_sync(descriptor)
    assert store.blob_path(descriptor.digest).stat().st_mode & 0o222 == 0
    again = store.stage_blob_sync()
    again.file.write(data)
    assert again.commit(descriptor) is False
    short = store.stage_blob_sync()
    short.file.write(data[:-1])
    with pytest.raises(DigestMismatch, match="staged file is"):
        short.commit(descriptor)
    assert store.scan_leftovers_sync() == []
    assert store.has_verified_blob_sync(descriptor)
