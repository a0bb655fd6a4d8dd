"""The prune plan and its result as plain data: what the CLI prints, the TUI shows and JSON holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cachetui.ops.policy import DEFAULT_GRACE, Decision, Policy
from cachetui.store.garbage import GcPlan


@dataclass(slots=True)
class PruneItem:
    """One tag the plan deletes, why, and what that costs or frees."""

    tag: str
    digest: str
    rule: str
    reason: str
    created: datetime | None = None
    frees_bytes: int = 0
    frees_blobs: int = 0
    collateral: tuple[str, ...] = ()
    """Other tags that go with it (a registry deletes a manifest with every tag on it)."""
    blocked: str | None = None
    """Why it will not be deleted (collateral not confirmed, protected collateral...)."""
    needs_shared_tags: bool = False
    """Blocked only because its collateral tags were not confirmed (``include_shared_tags``)."""
    same_manifest_as: str | None = None
    """An earlier item deletes the same manifest (registry): this one needs no request."""


@dataclass(slots=True)
class SourcePlan:
    """The plan for one store (a directory or one registry repository)."""

    location: str
    kind: str
    grace: timedelta = DEFAULT_GRACE
    items: list[PruneItem] = field(default_factory=list)
    kept: list[Decision] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    """Every tag of the source and the digest it pointed at when planned."""
    freed: dict[str, int] = field(default_factory=dict)
    """Digest → size of every blob the plan frees (set by the store's target)."""
    delete_blobs: tuple[str, ...] = ()
    """Directory: exactly the blobs the apply step may delete (each re-checked under the lock)."""
    stale_ingest: tuple[str, ...] = ()
    gc: GcPlan | None = None
    """The store's garbage collection plan behind ``delete_blobs`` (stores that collect)."""
    garbage_bytes: int = 0
    """Bytes of blobs that were already unreferenced (directory) and go too."""
    garbage_blobs: int = 0
    spared_bytes: int = 0
    """Bytes that would be freed but are younger than the grace period (kept for now)."""
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Why some or all of this source's deletions are refused."""

    @property
    def active(self) -> list[PruneItem]:
        return [item for item in self.items if item.blocked is None]

    @property
    def blocked(self) -> list[PruneItem]:
        return [item for item in self.items if item.blocked is not None]

    @property
    def total_bytes(self) -> int:
        return sum(item.frees_bytes for item in self.active) + self.garbage_bytes

    @property
    def has_work(self) -> bool:
        return bool(self.active or self.delete_blobs or self.stale_ingest)


@dataclass(slots=True)
class PrunePlan:
    policy: Policy
    sources: list[SourcePlan] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def total_bytes(self) -> int:
        return sum(source.total_bytes for source in self.sources)

    @property
    def spared_bytes(self) -> int:
        """Bytes the plan would free but spares for now: younger than the grace period."""
        return sum(source.spared_bytes for source in self.sources)

    @property
    def item_count(self) -> int:
        return sum(len(source.active) for source in self.sources)

    @property
    def has_work(self) -> bool:
        return any(source.has_work for source in self.sources)


@dataclass(slots=True)
class PruneResult:
    sources: list[SourceResult] = field(default_factory=list)

    @property
    def items(self) -> list[ItemResult]:
        return [item for source in self.sources for item in source.items]

    @property
    def ok(self) -> bool:
        return all(source.ok for source in self.sources)

    @property
    def bytes_deleted(self) -> int:
        return sum(source.bytes_deleted for source in self.sources)


def deleted_tags(plan: SourcePlan) -> set[str]:
    """Every tag that goes if the plan is applied (items and confirmed collateral)."""
    out: set[str] = set()
    for item in plan.active:
        out.add(item.tag)
        out.update(item.collateral)
    return out


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What happened to one plan item: ``deleted``, ``failed`` or ``skipped``, and why."""

    tag: str
    digest: str
    status: str
    message: str = ""


@dataclass(slots=True)
class SourceResult:
    location: str
    items: list[ItemResult] = field(default_factory=list)
    blobs_deleted: int = 0
    bytes_deleted: int = 0
    blob_failures: list[tuple[str, str]] = field(default_factory=list)
    ingest_deleted: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (not self.errors and not self.blob_failures
                and all(item.status == "deleted" for item in self.items))


def _policy_json(policy: Policy) -> dict[str, object]:
    return {
        "older_than_seconds": None if policy.older_than is None else policy.older_than.total_seconds(),
        "keep": policy.keep,
        "match": list(policy.match),
        "exclude": list(policy.exclude),
        "max_size": policy.max_size,
        "protect": list(policy.protect),
        "grace_seconds": policy.grace.total_seconds(),
        "include_shared_tags": policy.include_shared_tags,
        "include_inline_images": policy.include_inline_images,
        "description": policy.describe(),
    }


def source_plan_json(source: SourcePlan) -> dict[str, object]:
    return {
        "location": source.location,
        "kind": source.kind,
        "items": [
            {
                "tag": item.tag,
                "digest": item.digest,
                "rule": item.rule,
                "reason": item.reason,
                "created": None if item.created is None else item.created.isoformat(),
                "frees_bytes": item.frees_bytes,
                "frees_blobs": item.frees_blobs,
                "collateral": list(item.collateral),
                "blocked": item.blocked,
                "same_manifest_as": item.same_manifest_as,
            }
            for item in source.items
        ],
        "kept": [{"tag": d.tag, "rule": d.rule, "reason": d.reason} for d in source.kept],
        "garbage_blobs": source.garbage_blobs,
        "garbage_bytes": source.garbage_bytes,
        "delete_blobs": len(source.delete_blobs),
        "spared_bytes": source.spared_bytes,
        "stale_ingest": list(source.stale_ingest),
        "total_bytes": source.total_bytes,
        "notes": list(source.notes),
        "problems": list(source.problems),
    }


def plan_json(plan: PrunePlan, *, dry_run: bool) -> dict[str, object]:
    return {
        "dry_run": dry_run,
        "created_at": plan.created_at.isoformat(),
        "policy": _policy_json(plan.policy),
        "items": plan.item_count,
        "total_bytes": plan.total_bytes,
        "sources": [source_plan_json(source) for source in plan.sources],
    }


def result_json(result: PruneResult) -> dict[str, object]:
    return {
        "ok": result.ok,
        "bytes_deleted": result.bytes_deleted,
        "sources": [
            {
                "location": source.location,
                "items": [{"tag": i.tag, "digest": i.digest, "status": i.status,
                           "message": i.message} for i in source.items],
                "blobs_deleted": source.blobs_deleted,
                "bytes_deleted": source.bytes_deleted,
                "blob_failures": [{"digest": d, "error": e} for d, e in source.blob_failures],
                "ingest_deleted": source.ingest_deleted,
                "errors": list(source.errors),
                "notes": list(source.notes),
            }
            for source in result.sources
        ],
    }
