"""Prune keeps images that carry inline cache unless asked (issue 10, item 3).

An image pushed with ``--cache-to type=inline`` is the shipped application image; a rule such as
``--match '*'`` or ``--older-than 1d`` must treat it like any image (never pruned) unless
``--include-inline-images`` opts in, and then the plan says what it is.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.oci.reference import parse_reference
from cachetui.ops.copy import copy_cache
from cachetui.ops.policy import Policy
from cachetui.ops.prune import apply_prune, plan_prune
from cachetui.store.layout import LayoutStore
from cachetui.store.registry import RegistrySession
from tests.fixtures import fixture_dir
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, push_layout, unique_repo

LATER = datetime.now(UTC) + timedelta(days=3650)
"""A "now" after every fixture was built: every tag is older than any --older-than."""

LAYOUTS = {"inline": "app-inline", "latest": "app-latest", "buildcache-max": "app-buildcache-max"}


async def _directory(root: Path) -> LayoutStore:
    store = LayoutStore(root, create=True)
    for tag, layout in LAYOUTS.items():
        await copy_cache(LayoutStore(fixture_dir("buildkit-registry", layout)), [tag], store)
    return store


@pytest.mark.parametrize("policy", [Policy(match=("*",), grace=timedelta(0)),
                                    Policy(older_than=timedelta(days=1), grace=timedelta(0))])
async def test_rules_never_select_an_inline_cache_image(tmp_path: Path, policy: Policy) -> None:
    store = await _directory(tmp_path / "dir")
    plan = await plan_prune([(store, ())], policy, now=LATER)
    source = plan.sources[0]
    assert [item.tag for item in source.items] == ["buildcache-max"]
    kept = {decision.tag: decision for decision in source.kept}
    assert kept["inline"].rule == "inline image"
    assert "--include-inline-images" in kept["inline"].reason
    assert kept["latest"].rule == "image"
    await apply_prune({store.location: store}, plan)
    assert sorted(await store.list_tags()) == ["inline", "latest"]


async def test_include_inline_images_opts_in_and_the_plan_says_what_it_is(tmp_path: Path) -> None:
    store = await _directory(tmp_path / "dir")
    policy = Policy(match=("*",), grace=timedelta(0), include_inline_images=True)
    plan = await plan_prune([(store, ())], policy, now=LATER)
    source = plan.sources[0]
    assert sorted(item.tag for item in source.items) == ["buildcache-max", "inline"]
    assert any("inline" in note and "application image" in note for note in source.notes)
    assert "inline cache" in plan.policy.describe()
    await apply_prune({store.location: store}, plan)
    assert await store.list_tags() == ["latest"]


@pytest.mark.registry
def test_prune_cli_on_a_registry_keeps_the_inline_image(registry: RunningRegistry) -> None:
    import asyncio

    async def setup() -> str:
        async with RegistrySession(fast_settings()) as session:
            store = session.repository(parse_reference(
                f"{registry.host}/{unique_repo('inline')}", default_tag=False))
            for tag, layout in LAYOUTS.items():
                await push_layout(store, fixture_dir("buildkit-registry", layout), tag)
            return store.location

    location = asyncio.run(setup())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["prune", location, "--match", "*", "--json"])
    assert code == 0
    plan = json.loads(out.getvalue())["plan"]
    assert [item["tag"] for item in plan["sources"][0]["items"]] == ["buildcache-max"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["prune", location, "--match", "*", "--include-inline-images"])
    assert code == 0
    text = out.getvalue()
    assert "inline" in text and "application image with inline cache" in text
