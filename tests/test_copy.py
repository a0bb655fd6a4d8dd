"""Copy between directories: every form, digests preserved, re-runs move nothing again; the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.errors import Cancelled
from cachetui.ops.copy import apply_copy, copy_cache, plan_copy
from cachetui.ops.load import load_document
from cachetui.ops.progress import CancelToken, Progress
from cachetui.ops.transfer import BlobAction
from cachetui.store.layout import LayoutStore
from tests.fixtures import fixture_dir, layout_names


def all_blobs_verify(root: Path) -> None:
    reach = LayoutStore(root).reachability_sync()
    assert not reach.missing and not reach.problems


@pytest.mark.parametrize("name", layout_names("buildkit-variants"))
async def test_every_variant_copies_with_its_digest(tmp_path: Path, name: str) -> None:
    source = LayoutStore(fixture_dir("buildkit-variants", name))
    out = LayoutStore(tmp_path / "out", create=True)
    result = await copy_cache(source, ["latest"], out)
    assert (await out.resolve("latest")).digest == (await source.resolve("latest")).digest
    document = await load_document(out, "latest")
    for layer in document.layers:
        assert await out.blob_size(layer.blob_digest) == layer.size
    all_blobs_verify(tmp_path / "out")
    assert set(result.actions.values()) == {BlobAction.COPY}
    again = await copy_cache(source, ["latest"], out)
    assert set(again.actions.values()) == {BlobAction.SKIP}
    assert again.plan.tags[0].already_there


async def test_inline_cache_copies_as_its_image(tmp_path: Path) -> None:
    source = LayoutStore(fixture_dir("buildkit-registry", "app-inline"))
    out = LayoutStore(tmp_path / "out", create=True)
    plan = await plan_copy(source, ["inline"], out, "img")
    assert [b.role for b in plan.tags[0].blobs] == ["layer", "layer", "layer", "config"]
    assert plan.notes
    await apply_copy(plan, source, out)
    document = await load_document(out, "img")
    assert document.top.digest == (await source.resolve("inline")).digest
    assert str(document.format) == "inline"


async def test_interrupted_copy_finishes_without_moving_finished_blobs(tmp_path: Path) -> None:
    source = LayoutStore(fixture_dir("buildkit-variants", "gzip"))
    out = LayoutStore(tmp_path / "out", create=True)
    cancel = CancelToken()
    moved: list[int] = []

    def sink(progress: Progress) -> None:
        moved.append(progress.done)
        if progress.done >= 1_000_000:
            cancel.cancel()

    plan = await plan_copy(source, ["latest"], out)
    with pytest.raises(Cancelled):
        await apply_copy(plan, source, out, sink=sink, cancel=cancel, concurrency=1)
    with pytest.raises(Exception, match="no tag"):
        await out.resolve("latest")
    present = {b.descriptor.digest for b in plan.tags[0].blobs
               if await out.blob_size(b.descriptor.blob_digest) == b.size}
    assert present
    result = await copy_cache(source, ["latest"], out)
    assert {d for d, a in result.actions.items() if a is BlobAction.SKIP} == present
    assert {d for d, a in result.actions.items() if a is BlobAction.COPY} == {
        b.descriptor.digest for b in plan.tags[0].blobs} - present
    all_blobs_verify(tmp_path / "out")


async def test_other_tags_in_the_destination_stay(tmp_path: Path) -> None:
    out = LayoutStore(tmp_path / "out", create=True)
    await copy_cache(LayoutStore(fixture_dir("buildkit-variants", "zstd")), ["latest"], out, "z")
    await copy_cache(LayoutStore(fixture_dir("buildkit-variants", "gzip")), ["latest"], out, "g")
    await copy_cache(LayoutStore(fixture_dir("buildkit-variants", "oci-index")), ["latest"], out, "z2")
    assert await out.list_tags() == ["g", "z", "z2"]
    assert (tmp_path / "out" / "oci-layout").read_text() == '{"imageLayoutVersion":"1.0.0"}'


def test_cli_copy_all_tags_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = fixture_dir("buildkit", "local-multi-tag")
    code = main(["copy", str(source), str(tmp_path / "new"), "--all-tags", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    tags = [t["tag"] for t in report["tags"]]
    source_tags = [tag for tag, _ in LayoutStore(source).tag_entries_sync()]
    assert len(source_tags) > 1 and sorted(tags) == sorted(source_tags)
    assert report["copied_bytes"] == report["plan"]["bytes_to_copy"] > 0
    for entry in report["tags"]:
        assert LayoutStore(tmp_path / "new").get_manifest_sync(entry["tag"]).digest == entry["digest"]


def test_cli_copy_to_a_named_tag_and_dry_run(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    source = fixture_dir("buildkit-variants", "docker-list")
    assert main(["copy", f"{source}:latest", f"{tmp_path}/d:main", "--dry-run"]) == 0
    assert "1" in capsys.readouterr().out and not (tmp_path / "d").exists()
    assert main(["copy", str(source), f"type=local,dest={tmp_path}/d,tag=main"]) == 0
    assert "copied" in capsys.readouterr().out
    assert LayoutStore(tmp_path / "d").tag_entries_sync()[0][0] == "main"


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = fixture_dir("buildkit-variants", "gzip")
    assert main(["reexport", str(source), str(tmp_path / "x"), "--oci-mediatypes", "false",
                 "--image-manifest", "true"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("cachetui: error: invalid configuration for remote cache, OCI mediatypes are "
                   "required for image-manifest cache format")
    assert main(["copy", str(source) + ":nope", str(tmp_path / "y")]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["reexport", str(source), str(tmp_path / "y"), "--level", "3"]) == 2  # usage


def test_cli_reexport_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = fixture_dir("buildkit-variants", "gzip")
    assert main(["reexport", str(source), f"{tmp_path}/z:zst", "--compression", "zstd",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["plan"]["re_encode"] == 9 and report["verified_layers"] == 9
    assert LayoutStore(tmp_path / "z").get_manifest_sync("zst").digest == report["digest"]
    assert main(["reexport", f"{tmp_path}/z:zst", f"{tmp_path}/z:min", "--min"]) == 0
    assert "6 intermediate-only results dropped" in capsys.readouterr().out
