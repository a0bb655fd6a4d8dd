"""Where the space goes (issue 14 add 1): the model on the real BuildKit fixtures, figures checked
against EXPECTED.json, the reclaimable bytes the stores' own gc plans give, and bytes by age."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cachetui.config import Config
from cachetui.locations import Workspace
from cachetui.ops.gather import gather
from cachetui.ops.gha_prune import GhaRules, plan_gha_prune
from cachetui.ops.inventory import CacheEntry
from cachetui.ops.listing import totals
from cachetui.ops.reclaim import REGISTRY_NOTE, reclaim_all, reclaim_of
from cachetui.ops.space import ALL, AgeBar, Reclaim, space_report
from cachetui.present.space import bar, can_show_blocks, chart_lines
from cachetui.store.registry import RegistrySession
from tests.backend_fixtures import facts
from tests.fixtures import expected, fixture_dir
from tests.gha_emulator.emulator import GitHubEmulator
from tests.gha_emulator.fixture import load_dump
from tests.gha_support import gha_store
from tests.objstore_procs import Moto
from tests.objstore_servers import s3_loaded
from tests.prune_support import cache_manifest, copy_fixture, write_index
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, push_layout, unique_repo

NOW = datetime(2026, 11, 23, tzinfo=UTC)
VARIANTS = expected("buildkit-variants")["fixtures"]
BUILDKIT = expected("buildkit")["fixtures"]


async def entries_of(*paths: Path) -> list[CacheEntry]:
    async with Workspace(Config()) as ws:
        found = await gather(ws, [str(p) for p in paths])
    assert found.errors == []
    return found.entries


def layer_sizes(fixture: dict[str, Any]) -> dict[str, int]:
    return {layer["digest"]: layer["size"] for tag in fixture["tags"] for layer in tag["layers"]}


async def test_variants_each_source_and_everything_against_expected() -> None:
    """Eleven directories, one cache each: per source every byte is its cache's alone; across
    them the same blob (gzip and gzip-9 are byte-identical) counts once in the everywhere
    figure but once per source in the stored one (each directory keeps its own copy)."""
    names = sorted(VARIANTS)
    entries = await entries_of(*(fixture_dir("buildkit-variants", n) for n in names))
    report = space_report(entries, {}, now=NOW)
    by_name = {Path(f.name).name: f for f in report.sources}
    assert sorted(by_name) == names
    for name in names:
        figures = by_name[name]
        size = sum(layer_sizes(VARIANTS[name]).values())
        assert figures.caches == 1
        assert figures.total_bytes == figures.unique_bytes == figures.only_one_bytes == size
        assert figures.reclaim_now is None  # no gc plan was asked for
    everywhere: dict[str, int] = {}
    for name in names:
        everywhere.update(layer_sizes(VARIANTS[name]))
    assert report.unique_everywhere_bytes == sum(everywhere.values())
    assert report.overall.unique_bytes == sum(sum(layer_sizes(VARIANTS[n]).values())
                                              for n in names)
    assert report.unique_everywhere_bytes < report.overall.unique_bytes
    # The size of each fixture from the README table, to be sure EXPECTED was read right.
    assert by_name["gzip"].total_bytes == 2_127_351
    assert by_name["uncompressed"].total_bytes == 3_330_560


async def test_multi_tag_directory_dedup_and_bytes_only_one_cache_holds() -> None:
    fixture = BUILDKIT["local-multi-tag"]
    [report_source] = space_report(
        await entries_of(fixture_dir("buildkit", "local-multi-tag")), {}, now=NOW).sources
    holders: Counter[str] = Counter()
    sizes: dict[str, int] = {}
    for tag in fixture["tags"]:
        for layer in tag["layers"]:
            holders[layer["digest"]] += 1
            sizes[layer["digest"]] = layer["size"]
    assert report_source.caches == 2
    assert report_source.total_bytes == sum(tag["layerBytes"] for tag in fixture["tags"])
    assert report_source.unique_bytes == sum(sizes.values())
    alone = sum(sizes[d] for d, count in holders.items() if count == 1)
    assert report_source.only_one_bytes == alone
    assert 0 < alone < report_source.unique_bytes < report_source.total_bytes
    by_tag = {c.entry.tag: c for c in report_source.biggest}
    for tag in fixture["tags"]:
        mine = {layer["digest"] for layer in tag["layers"]}
        assert by_tag[tag["tag"]].only_here_bytes == sum(
            sizes[d] for d in mine if holders[d] == 1)
    # ls's totals line is built on the same accounting
    found = totals(await entries_of(fixture_dir("buildkit", "local-multi-tag")), {})
    assert (found.total_bytes, found.unique_bytes) == (report_source.total_bytes,
                                                       report_source.unique_bytes)


async def test_reclaimable_now_is_gc_plan_of_local_max_twice(tmp_path: Path) -> None:
    """The stranded blobs of the first export, as EXPECTED lists them: reclaimable now when
    older than the grace period, 'after the grace period' when younger."""
    root = copy_fixture("local-max-twice", tmp_path / "twice")  # blobs aged far in the past
    stranded = BUILDKIT["local-max-twice"]["unreferencedBlobs"]
    stranded_bytes = sum((root / "blobs" / "sha256" / d[7:]).stat().st_size for d in stranded)
    async with Workspace(Config()) as ws:
        found = await gather(ws, [str(root)])
        [store] = found.stores.values()
        old = await reclaim_of(store)
        assert (old.now_bytes, old.later_bytes) == (stranded_bytes, 0)
        assert "cachetui gc" in old.how and "10m" in old.how
        fresh = datetime.now(UTC).timestamp()
        for digest in stranded:
            os.utime(root / "blobs" / "sha256" / digest[7:], (fresh, fresh))
        young = await reclaim_all([store])
    assert (young[store.location].now_bytes, young[store.location].later_bytes) == (
        0, stranded_bytes)
    report = space_report(found.entries, young, now=NOW)
    assert (report.overall.reclaim_now, report.overall.reclaim_later) == (0, stranded_bytes)


async def test_a_directory_that_cannot_be_planned_reports_why(tmp_path: Path) -> None:
    root = copy_fixture("local-min", tmp_path / "min")
    async with Workspace(Config()) as ws:
        found = await gather(ws, [str(root)])
        [store] = found.stores.values()
        (root / "index.json").write_bytes(b'{"manifests": [')
        value = await reclaim_of(store)
    assert value.now_bytes is None and value.error and "index.json" in value.error
    report = space_report(found.entries, {store.location: value}, now=NOW)
    assert report.overall.reclaim_now is None
    assert report.overall.reclaim_errors == (value.error,)


async def test_registry_repository_with_several_tags(registry: RunningRegistry) -> None:
    """Several tags of one repository share layers: stored once in the repository; the
    registry has no gc plan cachetui can ask, so its reclaimable bytes are unknown (not 0)."""
    fixtures = expected("buildkit-registry")["fixtures"]
    pushed = {"app-buildcache": "buildcache", "app-buildcache-max": "buildcache-max",
              "app-latest": "latest"}
    repo = unique_repo("space")
    async with RegistrySession(fast_settings()) as session:
        store = session.store(registry.host, repo)
        for name, tag in pushed.items():
            await push_layout(store, fixture_dir("buildkit-registry", name), tag, tag)
        await push_layout(store, fixture_dir("buildkit-registry", "app-buildcache"), "again",
                          "buildcache")
    async with Workspace(Config()) as ws:
        found = await gather(ws, [f"{registry.host}/{repo}"])
        reclaim = await reclaim_all(found.stores.values())
    assert found.errors == []
    [figures] = space_report(found.entries, reclaim, now=NOW).sources
    sizes: dict[str, int] = {}
    holders: Counter[str] = Counter()
    total = 0
    for name in [*pushed, "app-buildcache"]:
        [entry] = fixtures[name]["tags"]
        total += entry["layerBytes"]
        for layer in entry["layers"]:
            sizes[layer["digest"]] = layer["size"]
            holders[layer["digest"]] += 1
    assert figures.caches == 4
    assert figures.total_bytes == total
    assert figures.unique_bytes == sum(sizes.values())
    assert figures.only_one_bytes == sum(sizes[d] for d, n in holders.items() if n == 1)
    assert figures.reclaim_now is None and figures.reclaim_how == REGISTRY_NOTE


async def test_bytes_by_age_count_each_blob_at_its_newest_cache(tmp_path: Path) -> None:
    """A layer shared by a fresh and an old cache is as young as the fresh one: the chart says
    what pruning old caches would not free."""
    root = tmp_path / "dir"
    shared = b"s" * 1000
    write_index(root, {
        "fresh": cache_manifest(root, [shared], NOW - timedelta(hours=2), salt="a"),
        "week": cache_manifest(root, [shared, b"w" * 3000], NOW - timedelta(days=3), salt="b"),
        "month": cache_manifest(root, [b"m" * 5000], NOW - timedelta(days=45), salt="c"),
        "ancient": cache_manifest(root, [b"a" * 7000], NOW - timedelta(days=200), salt="d"),
    })
    entries = await entries_of(root)
    ages = {bar_.label: (bar_.bytes, bar_.blobs) for bar_ in
            space_report(entries, {}, now=NOW).overall.ages}
    assert ages == {"<1d": (1000, 1), "1-7d": (3000, 1), "7-30d": (0, 0),
                    "30-90d": (5000, 1), ">90d": (7000, 1)}


def test_entries_without_analysis_are_counted_apart() -> None:
    broken = CacheEntry("./x", "directory", "bad", None, "cannot be read")
    report = space_report([broken], {"./x": Reclaim(0, 0, "gc")}, now=NOW)
    [figures] = report.sources
    assert (figures.caches, figures.unreadable, figures.total_bytes) == (0, 1, 0)
    assert report.figures(ALL).unreadable == 1


async def test_gha_reclaimable_is_the_prune_plan_of_superseded_generations(
        gha_emulator: GitHubEmulator) -> None:
    load_dump(gha_emulator, "v2-generations")
    rest_only = gha_store(gha_emulator, runtime=False)
    with_contents = gha_store(gha_emulator)
    try:
        blind = await reclaim_of(rest_only)
        assert blind.now_bytes == 3041 + 3051  # the two superseded index generations
        assert "runtime token" in blind.how
        seeing = await reclaim_of(with_contents)
        plan = plan_gha_prune(with_contents.location, await with_contents.inventory(),
                              GhaRules(superseded=True, orphans=True),
                              findings=await with_contents.findings())
        assert seeing.now_bytes == plan.total_bytes >= 3041 + 3051
    finally:
        await rest_only.aclose()
        await with_contents.aclose()


def test_chart_bars_scale_and_fall_back_to_ascii() -> None:
    assert bar(8, 8, 4) == "████"
    assert bar(1, 8, 4) == "▌"  # half a cell
    assert bar(1, 1000, 4) == "▏"  # never invisible
    assert bar(0, 8, 4) == ""
    assert bar(8, 8, 4, ascii_only=True) == "####"
    assert bar(1, 1000, 4, ascii_only=True) == "#"
    assert can_show_blocks("utf-8") and not can_show_blocks("ascii")
    assert not can_show_blocks("latin-1") and not can_show_blocks("no-such-codec")
    lines = chart_lines([AgeBar("<1d", 2048, 2), AgeBar(">90d", 1024, 1)], width=40,
                        ascii_only=True)
    assert all(line.isascii() and len(line) <= 40 for line in lines)
    assert lines[0].count("#") == 2 * lines[1].count("#")


async def test_s3_reclaimable_is_the_object_gc_plan(moto: Moto) -> None:
    """Orphaned blobs of the real two-builds dump (what an s3 cache keeps after a second build):
    just uploaded, all inside the 1h grace period of ``gc``; with no grace, all reclaimable."""
    info = facts("s3", "two-builds")
    store = s3_loaded(moto, "two-builds")
    fresh = await reclaim_of(store)
    assert (fresh.now_bytes, fresh.later_bytes) == (0, info["orphanedBytes"])
    assert "grace 1h" in fresh.how
    no_grace = await reclaim_of(store, grace=timedelta(0))
    assert (no_grace.now_bytes, no_grace.later_bytes) == (info["orphanedBytes"], 0)
    assert info["orphanedBytes"] > 0
