"""Prune: a plan first (what, which rule, bytes freed, collateral tags), then exactly that plan.

The planning is the same for every store: read every tag through the Store protocol (bounded
and concurrent, one config read per manifest), evaluate the policy, and count the bytes a deletion
frees as the blobs no surviving tag uses, each counted once. What really differs between a
directory and a registry (untag + blob GC versus deleting a manifest by digest, which drops every
tag on it) lives in :mod:`cachetui.ops.prune_targets`, chosen once per store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from cachetui.buildkit.document import CacheFormat
from cachetui.errors import CachetuiError
from cachetui.oci import mediatypes as mt
from cachetui.oci.models import TopObject
from cachetui.ops.inventory import CacheEntry, collect, scan_store
from cachetui.ops.load import DocumentMemo
from cachetui.ops.policy import Candidate, Decision, Policy, evaluate
from cachetui.ops.progress import CancelToken, Progress, ProgressSink, no_progress
from cachetui.ops.prune_model import (
    PruneItem,
    PrunePlan,
    PruneResult,
    SourcePlan,
)
from cachetui.ops.prune_targets import Target, target_for
from cachetui.store.base import Store

DEFAULT_CONCURRENCY = 8


async def blobs_of(store: Store, top: TopObject, *, depth: int = 0) -> dict[str, int]:
    """Digest → size of every blob a manifest or index reaches (itself included)."""
    out = {str(top.digest): len(top.raw)}
    for child in top.children():
        out.setdefault(child.digest, child.size)
        if child.media_type in mt.TOP_LEVEL_TYPES and depth < 4:
            try:
                nested = await store.get_manifest(child.digest)
            except CachetuiError:
                continue
            for digest, size in (await blobs_of(store, nested, depth=depth + 1)).items():
                out.setdefault(digest, size)
    return out


async def _resolve_all(store: Store, tags: Sequence[str], concurrency: int) -> dict[str, str | None]:
    limit = asyncio.Semaphore(max(1, concurrency))

    async def one(tag: str) -> tuple[str, str | None]:
        async with limit:
            try:
                return tag, (await store.resolve(tag)).digest
            except CachetuiError:
                return tag, None

    return dict(await asyncio.gather(*(one(tag) for tag in tags)))


async def plan_source(store: Store, policy: Policy, *, named: Iterable[str] = (),
                      now: datetime | None = None, memo: DocumentMemo | None = None,
                      concurrency: int = DEFAULT_CONCURRENCY,
                      progress: ProgressSink = no_progress) -> SourcePlan:
    """The plan for one store. Never raises for a bad tag: it becomes a kept row or a problem."""
    target = target_for(store)
    plan = SourcePlan(store.location, store.kind, grace=policy.grace)
    named = set(named)
    memo = memo if memo is not None else DocumentMemo()
    entries, errors, _ = await collect(scan_store(store, memo=memo, concurrency=concurrency))
    if errors:
        plan.problems.extend(errors)
        return plan
    entries.sort(key=lambda entry: entry.tag)  # scans finish in any order; plans must not
    progress(Progress("plan", len(entries), len(entries), "tags", store.location))
    unknown = [entry.tag for entry in entries if entry.digest is None]
    resolved = await _resolve_all(store, unknown, concurrency) if unknown else {}
    for entry in entries:
        digest = entry.digest or resolved.get(entry.tag)
        if digest is not None:
            plan.tags[entry.tag] = digest
    unresolved = sorted(tag for tag in resolved if resolved[tag] is None)

    blob_sets: dict[str, dict[str, int]] = {}
    for entry in entries:
        if entry.analysis is not None and entry.digest not in blob_sets:
            blob_sets[str(entry.digest)] = await blobs_of(store, entry.analysis.document.top)

    candidates, not_candidates = _candidates(entries, blob_sets, named,
                                             inline_images=policy.include_inline_images)
    decisions = evaluate(policy, candidates, named=named, now=now)
    plan.kept = [d for d in decisions if not d.selected] + not_candidates
    by_tag = {entry.tag: entry for entry in entries}
    for decision in decisions:
        if decision.selected:
            entry = by_tag[decision.tag]
            plan.items.append(PruneItem(
                decision.tag, plan.tags.get(decision.tag, ""), decision.rule, decision.reason,
                created=entry.analysis.created_newest if entry.analysis else None))
            if _is_inline_image(entry):
                plan.notes.append(f"{decision.tag} is an application image with inline cache, "
                                  "selected because of --include-inline-images")
    missing_named = sorted(named - set(by_tag))
    plan.problems += [f"no tag {tag!r}" for tag in missing_named]

    _mark_collateral(plan, target, policy, unresolved)
    if store.read_only:  # the store would refuse each delete; say so in the plan instead
        for item in plan.items:
            item.blocked = item.blocked or "read-only source (read_only in the config)"
        plan.notes.append("read-only source: nothing here is deleted")
        _attribute(plan, blob_sets)
        return plan
    await target.finish_plan(store, plan, blob_sets)
    _attribute(plan, blob_sets)
    return plan


def _is_inline_image(entry: CacheEntry) -> bool:
    return entry.analysis is not None and entry.analysis.document.format is CacheFormat.INLINE


def _candidates(entries: Sequence[CacheEntry], blob_sets: Mapping[str, dict[str, int]],
                named: set[str], *, inline_images: bool = False,
                ) -> tuple[list[Candidate], list[Decision]]:
    """Caches are candidates; images and unreadable tags are kept unless named explicitly.

    An image with inline cache is an image first (the one a deploy pulls): kept like any image
    unless ``inline_images`` opts in.
    """
    candidates: list[Candidate] = []
    kept: list[Decision] = []
    for entry in entries:
        analysis = entry.analysis
        if _is_inline_image(entry) and not inline_images:
            kept.append(Decision(entry.tag, False, "inline image",
                                 "an application image with inline cache: never pruned without "
                                 "--include-inline-images"))
        elif analysis is not None and analysis.document.is_cache:
            candidates.append(Candidate(entry.tag, analysis.created_newest,
                                        blob_sets.get(str(entry.digest), {})))
        elif analysis is not None:
            kept.append(Decision(entry.tag, False, "image", "an image, not a cache: never pruned"))
        elif entry.tag in named:
            candidates.append(Candidate(entry.tag, None, {}))
        else:
            kept.append(Decision(entry.tag, False, "unreadable", entry.error or "cannot be read"))
    return candidates, kept


def _mark_collateral(plan: SourcePlan, target: Target, policy: Policy,
                     unresolved: Sequence[str]) -> None:
    selected = {item.tag for item in plan.items}
    kept_rules = {decision.tag: decision for decision in plan.kept}
    first_by_digest: dict[str, str] = {}
    for item in plan.items:
        if not item.digest:
            item.blocked = "its manifest digest is unknown"
            continue
        if item.digest in first_by_digest:
            item.same_manifest_as = first_by_digest[item.digest]
        else:
            first_by_digest[item.digest] = item.tag
        item.collateral = tuple(tag for tag in target.collateral(item.tag, item.digest, plan.tags)
                                if tag not in selected)
        if target.deletes_by_digest and unresolved:
            item.blocked = (f"tags {', '.join(unresolved)} could not be resolved, so other tags "
                            "on this manifest are unknown")
            continue
        hard = [tag for tag in item.collateral
                if kept_rules.get(tag) is not None and kept_rules[tag].rule in ("protect", "exclude")]
        if hard:
            item.blocked = (f"deleting its manifest would also delete {', '.join(hard)}, "
                            "which --protect/--exclude keeps")
        elif item.collateral and not policy.include_shared_tags:
            item.blocked = (f"its manifest is shared with {', '.join(item.collateral)}, which would "
                            "be deleted too unless shared tags are included")
            item.needs_shared_tags = True
    # Items deleting the same manifest share one fate.
    blocked_digests = {item.digest for item in plan.items if item.blocked is not None}
    for item in plan.items:
        if item.blocked is None and item.digest in blocked_digests and target.deletes_by_digest:
            item.blocked = "another tag on the same manifest is blocked"


def _attribute(plan: SourcePlan, blob_sets: Mapping[str, dict[str, int]]) -> None:
    """Give each freed blob to the first item that uses it, so item bytes add up exactly."""
    freed = plan.freed
    claimed: set[str] = set()
    for item in plan.active:
        mine = [d for d in blob_sets.get(item.digest, {}) if d in freed and d not in claimed]
        claimed.update(mine)
        item.frees_blobs = len(mine)
        item.frees_bytes = sum(freed[d] for d in mine)
    garbage = set(freed) - claimed
    plan.garbage_blobs = len(garbage)
    plan.garbage_bytes = sum(freed[d] for d in garbage)


async def plan_prune(stores: Sequence[tuple[Store, Iterable[str]]], policy: Policy, *,
                     now: datetime | None = None, progress: ProgressSink = no_progress,
                     concurrency: int = DEFAULT_CONCURRENCY) -> PrunePlan:
    """Plan every store; ``stores`` pairs a store with the tags named explicitly for it."""
    plan = PrunePlan(policy)
    memo = DocumentMemo()
    for store, named in stores:
        plan.sources.append(await plan_source(store, policy, named=named, now=now, memo=memo,
                                              concurrency=concurrency, progress=progress))
    return plan


async def apply_prune(stores: Mapping[str, Store], plan: PrunePlan, *,
                      progress: ProgressSink = no_progress,
                      cancel: CancelToken | None = None) -> PruneResult:
    """Execute exactly ``plan``: every item ends deleted, failed (with why) or skipped (with why)."""
    cancel = cancel or CancelToken()
    result = PruneResult()
    for source in plan.sources:
        store = stores[source.location]
        target = target_for(store)
        result.sources.append(await target.apply(store, source, progress=progress, cancel=cancel))
    return result
