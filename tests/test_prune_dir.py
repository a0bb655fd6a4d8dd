"""Pruning cache directories: untag under the lock, then collect what no remaining tag reaches."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.ops.policy import Policy
from cachetui.ops.progress import CancelToken
from cachetui.ops.prune import apply_prune, plan_prune
from cachetui.ops.prune_model import PrunePlan, PruneResult
from cachetui.store.layout import LayoutStore
from tests.prune_support import (
    OLD,
    age_all_blobs,
    blob_digests,
    cache_manifest,
    copy_fixture,
    reachable_ok,
    reachable_set,
    write_index,
)

NOW = datetime.now(UTC)
ZERO = timedelta(0)


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def plan_and_apply(store: LayoutStore, policy: Policy, named: tuple[str, ...] = ()
                   ) -> tuple[PrunePlan, PruneResult]:
    async def go() -> tuple[PrunePlan, PruneResult]:
        plan = await plan_prune([(store, named)], policy)
        return plan, await apply_prune({store.location: store}, plan)

    return asyncio.run(go())


def tagged_reach(root: Path, tag: str) -> set[str]:
    index = json.loads((root / "index.json").read_bytes())
    only = [m for m in index["manifests"]
            if m["annotations"]["org.opencontainers.image.ref.name"] == tag]
    scratch = dict(index, manifests=only)
    (root / "index.json").write_bytes(json.dumps(scratch).encode())
    try:
        return reachable_set(root)
    finally:
        (root / "index.json").write_bytes(json.dumps(index).encode())


@pytest.fixture
def multi(tmp_path: Path) -> Path:
    return copy_fixture("local-multi-tag", tmp_path / "multi")


def test_prune_one_tag_of_local_multi_tag_frees_only_its_own_blobs(multi: Path) -> None:
    main_blobs, feature_blobs = tagged_reach(multi, "main"), tagged_reach(multi, "feature-x")
    own = main_blobs - feature_blobs
    sizes = {d: (multi / "blobs" / "sha256" / d[7:]).stat().st_size for d in own}
    store = LayoutStore(multi)
    plan, result = plan_and_apply(store, Policy(), ("main",))
    [source] = plan.sources
    [item] = source.items
    assert (item.tag, item.rule, item.collateral) == ("main", "named", ())
    assert item.frees_blobs == len(own) == 3
    assert item.frees_bytes == sum(sizes.values())
    assert source.total_bytes == item.frees_bytes
    assert set(source.delete_blobs) == own
    assert result.ok
    assert [(i.tag, i.status) for i in result.items] == [("main", "deleted")]
    assert result.sources[0].bytes_deleted == item.frees_bytes
    assert asyncio.run(store.list_tags()) == ["feature-x"]
    assert blob_digests(multi) == feature_blobs
    assert reachable_ok(multi) == []


def test_young_blobs_of_a_pruned_tag_stay_until_the_grace_period_ends(multi: Path) -> None:
    age_all_blobs(multi, time.time())
    store = LayoutStore(multi)
    plan, result = plan_and_apply(store, Policy(), ("main",))
    source = plan.sources[0]
    assert source.items[0].frees_bytes == 0
    assert source.spared_bytes > 0
    assert any("younger than the grace period" in note for note in source.notes)
    assert result.ok
    assert asyncio.run(store.list_tags()) == ["feature-x"]
    assert len(blob_digests(multi)) == 8


def test_prune_counts_shared_bytes_once_and_includes_existing_garbage(tmp_path: Path) -> None:
    root = tmp_path / "dir"
    base = b"B" * 1000
    a = cache_manifest(root, [base, b"a" * 100], NOW - timedelta(days=30), salt="a", mtime=OLD)
    b = cache_manifest(root, [base, b"b" * 200], NOW - timedelta(days=20), salt="b", mtime=OLD)
    c = cache_manifest(root, [b"c" * 10], NOW - timedelta(days=1), salt="c", mtime=OLD)
    write_index(root, {"a": a, "b": b, "c": c})
    garbage = cache_manifest(root, [b"g" * 50], NOW, salt="g", mtime=OLD)
    before = blob_digests(root)
    doomed = before - tagged_reach(root, "c")
    doomed_bytes = sum((root / "blobs" / "sha256" / d[7:]).stat().st_size for d in doomed)
    store = LayoutStore(root)
    plan, result = plan_and_apply(store, Policy(older_than=timedelta(days=14)))
    source = plan.sources[0]
    assert [i.tag for i in source.items] == ["a", "b"]
    assert [d.tag for d in source.kept] == ["c"]
    first, second = source.items
    assert first.frees_bytes > 1000 + 100  # the shared base goes to the first item only
    assert first.frees_blobs == 4 and second.frees_blobs == 3
    assert source.garbage_blobs == 3  # the stray manifest, config and layer
    assert source.total_bytes == doomed_bytes
    assert garbage[0] in source.delete_blobs
    assert result.ok
    assert blob_digests(root) == tagged_reach(root, "c")
    assert result.sources[0].bytes_deleted == source.total_bytes


def test_two_tags_on_one_manifest_untag_independently(tmp_path: Path) -> None:
    root = tmp_path / "dir"
    m = cache_manifest(root, [b"x" * 10], NOW, mtime=OLD)
    write_index(root, {"one": m, "two": m})
    store = LayoutStore(root)
    plan, result = plan_and_apply(store, Policy(), ("one",))
    item = plan.sources[0].items[0]
    assert item.collateral == () and item.blocked is None and item.frees_bytes == 0
    assert result.ok
    assert asyncio.run(store.list_tags()) == ["two"]
    assert reachable_ok(root) == [] and len(blob_digests(root)) == 3


def test_apply_executes_the_plan_not_a_newer_state(tmp_path: Path) -> None:
    root = tmp_path / "dir"
    old = cache_manifest(root, [b"old"], NOW - timedelta(days=40), salt="o", mtime=OLD)
    write_index(root, {"ci": old})
    store = LayoutStore(root)

    async def go() -> PruneResult:
        plan = await plan_prune([(store, ())], Policy(older_than=timedelta(days=7)))
        assert [i.tag for i in plan.sources[0].items] == ["ci"]
        # A new export moves the tag before the plan is applied.
        new = cache_manifest(root, [b"new"], NOW, salt="n", mtime=OLD)
        write_index(root, {"ci": new})
        return await apply_prune({store.location: store}, plan)

    result = asyncio.run(go())
    [item] = result.items
    assert item.status == "failed"
    assert "no longer points at the planned manifest" in item.message
    assert not result.ok
    assert asyncio.run(store.list_tags()) == ["ci"]
    assert reachable_ok(root) == []


def test_cancelled_apply_reports_every_item_and_deletes_nothing(multi: Path) -> None:
    store = LayoutStore(multi)
    cancel = CancelToken()
    cancel.cancel()

    async def go() -> PruneResult:
        plan = await plan_prune([(store, ("main", "feature-x"))], Policy())
        return await apply_prune({store.location: store}, plan, cancel=cancel)

    result = asyncio.run(go())
    assert [(i.tag, i.status, i.message) for i in result.items] == [
        ("feature-x", "failed", "cancelled"), ("main", "failed", "cancelled")]
    assert len(blob_digests(multi)) == 8


def test_protect_wins_over_a_named_tag_and_plain_images_are_never_selected(tmp_path: Path) -> None:
    root = tmp_path / "dir"
    cache = cache_manifest(root, [b"l"], NOW - timedelta(days=99), salt="c", mtime=OLD)
    config = b'{"rootfs":{"type":"layers","diff_ids":[]}}'
    from tests.prune_support import put_blob
    config_digest = put_blob(root, config, mtime=OLD)
    image = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                   "digest": config_digest, "size": len(config)},
                        "layers": []}).encode()
    write_index(root, {"cache": cache, "image": (put_blob(root, image, mtime=OLD), len(image))})
    plan, _ = plan_and_apply(LayoutStore(root), Policy(protect=("cache",), match=("*",)),
                             ("cache",))
    kept = {d.tag: d.rule for d in plan.sources[0].kept}
    assert kept == {"cache": "protect", "image": "image"}
    assert plan.sources[0].items == []
    assert reachable_ok(root) == [] and len(blob_digests(root)) == 5


def test_prune_cli_dry_run_then_yes_applies_the_same_plan(multi: Path) -> None:
    code, out = run_cli("prune", f"{multi}:main", "--grace", "0s")
    assert code == 0
    assert "delete  main" in out and "named" in out
    assert "Dry run: nothing was deleted" in out
    assert len(blob_digests(multi)) == 8
    code, out = run_cli("prune", f"{multi}:main", "--grace", "0s", "--yes", "--json")
    assert code == 0
    data = json.loads(out)
    planned = data["plan"]["sources"][0]
    assert data["plan"]["dry_run"] is False
    assert [i["tag"] for i in planned["items"]] == ["main"]
    done = data["result"]["sources"][0]
    assert [(i["tag"], i["status"]) for i in done["items"]] == [("main", "deleted")]
    assert done["bytes_deleted"] == planned["total_bytes"] == data["result"]["bytes_deleted"]
    assert reachable_ok(multi) == []


def test_prune_cli_policy_from_config(multi: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[policies.ci]\nmatch = ["feature-*"]\ngrace = "0s"\n')
    monkeypatch.setenv("CACHETUI_CONFIG", str(config))
    code, out = run_cli("prune", str(multi), "--policy", "ci", "--json")
    assert code == 0
    items = json.loads(out)["plan"]["sources"][0]["items"]
    assert [(i["tag"], i["rule"]) for i in items] == [("feature-x", "match")]
    assert run_cli("prune", str(multi), "--policy", "nope")[0] == 1


def test_prune_cli_errors_are_one_line(multi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("prune", str(multi))[0] == 2
    assert "no rule selects anything" in capsys.readouterr().err
    assert run_cli("prune", str(multi), "--max-size", "huge")[0] == 2  # a usage error (README: exit 2)
    assert "--max-size: 'huge' is not a size" in capsys.readouterr().err
    assert run_cli("prune", f"{multi}:nosuchtag")[0] == 3
    assert len(blob_digests(multi)) == 8
