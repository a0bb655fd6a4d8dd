"""Prune a repository's Actions cache: plan from the inventory, then delete exactly the planned
entries by id (REST). Rules:

- superseded index generations: an import reads only the newest ``#N`` (always safe);
- refs by age (``created_at`` of the ref's newest entry) and/or by pattern (``refs/pull/*``):
  every BuildKit entry of the ref;
- orphaned blob entries: no index generation names them (needs index contents);
- evicted: a current index that names a blob entry that is gone (its builds fail with
  "blob not found"; without it the next build writes a complete one).
``exclude`` patterns protect refs whatever the rule. Entries that are not BuildKit's are never
selected.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cachetui.errors import CachetuiError
from cachetui.store.gha.errors import GitHubAuthError, GitHubRateLimited
from cachetui.store.gha.inventory import ContentFindings, EntryInfo, GhaInventory


class GhaDeleter(Protocol):
    async def delete_id(self, entry_id: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class GhaRules:
    superseded: bool = False
    older_than: timedelta | None = None
    match: tuple[str, ...] = ()
    """Ref globs (``refs/pull/*``); with ``older_than`` both must hold."""
    exclude: tuple[str, ...] = ()
    orphans: bool = False
    evicted: bool = False

    @property
    def selects(self) -> bool:
        return bool(self.superseded or self.older_than or self.match or self.orphans
                    or self.evicted)

    def describe(self) -> str:
        parts = []
        if self.superseded:
            parts.append("superseded generations")
        if self.older_than or self.match:
            what = "refs"
            if self.match:
                what += f" matching {' or '.join(self.match)}"
            if self.older_than:
                what += f" with nothing newer than {_days(self.older_than)}"
            parts.append(what)
        if self.orphans:
            parts.append("orphaned blob entries")
        if self.evicted:
            parts.append("indexes with evicted blobs")
        if self.exclude:
            parts.append(f"never refs matching {' or '.join(self.exclude)}")
        return "; ".join(parts) or "nothing"


def _days(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:g}d" if hours >= 24 else f"{hours:g}h"


@dataclass(frozen=True, slots=True)
class GhaPruneItem:
    entry: EntryInfo
    rule: str
    cache: str
    """``SCOPE@REF`` of an index, or ``blob``."""


@dataclass(slots=True)
class GhaPrunePlan:
    location: str
    rules: GhaRules
    items: list[GhaPruneItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    kept_refs: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(item.entry.size for item in self.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "location": self.location, "kind": "gha", "rules": self.rules.describe(),
            "items": [{"id": i.entry.id, "key": i.entry.key, "ref": i.entry.ref,
                       "size": i.entry.size, "created_at": i.entry.created_at.isoformat(),
                       "rule": i.rule, "cache": i.cache} for i in self.items],
            "total_bytes": self.total_bytes, "notes": self.notes, "problems": self.problems,
        }


def _matches(ref: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(ref, pattern) for pattern in patterns)


def plan_gha_prune(location: str, inventory: GhaInventory, rules: GhaRules, *,
                   findings: ContentFindings | None = None,
                   now: datetime | None = None) -> GhaPrunePlan:
    """What ``rules`` select, each entry once, the first rule that selects it named."""
    plan = GhaPrunePlan(location, rules)
    moment = now or datetime.now(UTC)
    chosen: dict[int, GhaPruneItem] = {}
    protected = {entry.ref for entry in inventory.entries if _matches(entry.ref, rules.exclude)}
    plan.kept_refs = sorted(protected)
    names = {entry.id: cache.name for cache in inventory.caches for _, entry in cache.generations}

    def take(entry: EntryInfo, rule: str) -> None:
        if entry.ref not in protected and entry.id not in chosen:
            chosen[entry.id] = GhaPruneItem(entry, rule, names.get(entry.id, "blob"))

    if rules.superseded:
        for cache in inventory.caches:
            for entry in cache.superseded:
                take(entry, f"superseded by #{_generation(cache.current.key)}")
    if rules.older_than or rules.match:
        buildkit = [*[e for c in inventory.caches for _, e in c.generations], *inventory.blobs]
        refs: dict[str, list[EntryInfo]] = {}
        for entry in buildkit:
            refs.setdefault(entry.ref, []).append(entry)
        for ref, entries in sorted(refs.items()):
            newest = max(entry.created_at for entry in entries)
            if rules.match and not _matches(ref, rules.match):
                continue
            if rules.older_than and moment - newest < rules.older_than:
                continue
            why = f"ref {'matches ' + ','.join(rules.match) if rules.match else ''}".rstrip()
            if rules.older_than:
                why += f" idle {_days(moment - newest)}"
            for entry in sorted(entries, key=lambda e: e.id):
                take(entry, why)
    if rules.orphans or rules.evicted:
        if findings is None:
            plan.problems.append("orphaned and evicted entries need the index contents: run "
                                 "inside a workflow step with the runtime token")
        else:
            if rules.orphans:
                for entry in findings.orphaned:
                    take(entry, "orphaned blob (no index names it)")
            if rules.evicted:
                for health in findings.health:
                    if health.evicted:
                        take(health.cache.current,
                             f"names {len(health.evicted)} evicted blob(s)")
    plan.items = sorted(chosen.values(), key=lambda item: (item.entry.ref, item.entry.key,
                                                           item.entry.id))
    if inventory.other:
        plan.notes.append(f"{len(inventory.other)} entries that are not BuildKit's are never "
                          "touched")
    return plan


def _generation(key: str) -> str:
    return key.rsplit("#", 1)[-1]


@dataclass(frozen=True, slots=True)
class GhaPruneOutcome:
    item: GhaPruneItem
    status: str
    """``deleted``, ``gone`` (already deleted by someone else) or ``failed``."""
    message: str = ""


@dataclass(slots=True)
class GhaPruneResult:
    location: str
    outcomes: list[GhaPruneOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(outcome.status != "failed" for outcome in self.outcomes)

    @property
    def freed_bytes(self) -> int:
        return sum(o.item.entry.size for o in self.outcomes if o.status == "deleted")

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "freed_bytes": self.freed_bytes,
                "items": [{"id": o.item.entry.id, "key": o.item.entry.key, "ref": o.item.entry.ref,
                           "status": o.status, "message": o.message} for o in self.outcomes]}


async def apply_gha_prune(deleter: GhaDeleter, plan: GhaPrunePlan) -> GhaPruneResult:
    """Delete exactly the planned entries, by id, one at a time (a failure stops nothing else;
    an authorisation or rate-limit failure stops the rest, which would fail the same way)."""
    result = GhaPruneResult(plan.location)
    stop: str | None = None
    for item in plan.items:
        if stop is not None:
            result.outcomes.append(GhaPruneOutcome(item, "failed", stop))
            continue
        try:
            deleted = await deleter.delete_id(item.entry.id)
        except CachetuiError as exc:
            result.outcomes.append(GhaPruneOutcome(item, "failed", str(exc)))
            if isinstance(exc, GitHubAuthError | GitHubRateLimited):
                stop = f"not tried: {exc}"
            continue
        result.outcomes.append(GhaPruneOutcome(item, "deleted" if deleted else "gone"))
    return result
