"""The gc plan modal (``C`` on the main screen or in the source view, opened by
:mod:`cachetui.tui.collecting`): what a garbage collection of a cache directory or an s3/azblob
prefix deletes, what it spares (younger than the grace period, which the user can change), focus
on Cancel; the caller runs the approved plan as a cancellable job, exactly as ``cachetui gc
--yes`` would. Both plan kinds are shown through :class:`GcView`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from cachetui.errors import CachetuiError
from cachetui.ops.objgc import ObjectGcPlan
from cachetui.ops.objscan import Orphan
from cachetui.ops.policy import format_duration, parse_duration
from cachetui.present import units
from cachetui.present.safe_text import safe
from cachetui.store.garbage import BlobFile, GcPlan
from cachetui.tui.keymap import identify
from cachetui.tui.modals.fit import fit_body
from cachetui.tui.model import compact_age
from cachetui.tui.orphans import Orphaned

REPLAN_DELAY = 0.3


@dataclass(frozen=True, slots=True)
class GcView:
    """What the modal shows of a gc plan, whichever store made it; ``plan`` is what is applied."""

    plan: GcPlan | ObjectGcPlan
    location: str
    grace: timedelta
    delete: tuple[Orphaned, ...]
    spared: tuple[Orphaned, ...]
    kept_line: str
    """What stays whatever the grace (the blobs the tags or manifests name)."""
    notes: tuple[str, ...] = ()
    extra: int = 0
    """Other things deleted with the blobs (stale ingest entries)."""

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.delete)

    @property
    def count(self) -> int:
        return len(self.delete) + self.extra


def directory_view(plan: GcPlan) -> GcView:
    def item(blob: BlobFile) -> Orphaned:
        return Orphaned(blob.digest, blob.size, datetime.fromtimestamp(blob.mtime, UTC))

    notes = [f"stale ingest: {entry.name} ({units.size(entry.size)})" for entry in plan.ingest]
    if plan.missing:
        notes.append(f"{len(plan.missing)} blob(s) the tags reach are missing from the "
                     "directory (dangling; gc cannot bring them back)")
    return GcView(plan, plan.location, plan.grace, tuple(map(item, plan.blobs)),
                  tuple(map(item, plan.spared)),
                  f"{plan.reachable} blobs reachable from the tags stay", tuple(notes),
                  len(plan.ingest))


def object_view(plan: ObjectGcPlan) -> GcView:
    def item(orphan: Orphan) -> Orphaned:
        return Orphaned(orphan.key, orphan.size, orphan.last_modified)

    report = plan.report
    dangling = sum(len(m.missing) for m in report.manifests)
    notes = (f"{dangling} dangling reference(s): gc cannot bring those blobs back",) \
        if dangling else ()
    return GcView(plan, plan.location, plan.grace, tuple(map(item, plan.delete)),
                  tuple(map(item, plan.spared)),
                  f"{len(report.referenced)} blobs named by {len(report.manifests)} manifests "
                  "stay", notes)


Replan = Callable[[timedelta], Awaitable[GcView]]


def gc_title(plan: GcView) -> str:
    """``GC: delete 3 blobs, 1.2 MiB now; 2 younger than 10m kept (300 KiB)``."""
    text = (f"GC: delete {units.count(len(plan.delete), 'blob')}, {units.size(plan.bytes)} now"
            if plan.delete else "GC: nothing to delete now")
    if plan.extra:
        text += f" (+ {units.count(plan.extra, 'stale ingest entry', 'stale ingest entries')})"
    if plan.spared:
        spared = sum(b.size for b in plan.spared)
        text += (f"; {len(plan.spared)} younger than {format_duration(plan.grace)} kept "
                 f"({units.size(spared)})")
    return text


def gc_body(plan: GcView, now: datetime) -> RenderableType:
    parts: list[RenderableType] = [Text(f"{safe(plan.location)}: {plan.kept_line}",
                                        style="bold")]

    def table(blobs: tuple[Orphaned, ...], style: str) -> Table:
        out = Table(box=None, pad_edge=False, show_edge=False, expand=True)
        out.add_column("blob")
        out.add_column("size", justify="right")
        out.add_column("age")
        for blob in blobs:
            out.add_row(Text(safe(blob.name), style=style), units.size(blob.size),
                        compact_age(blob.modified, now))
        return out

    if plan.delete:
        parts += [Text("deleted (nothing names them):"), table(plan.delete, "")]
    if plan.spared:
        parts += [Text(f"kept: younger than the grace period ({format_duration(plan.grace)}); "
                       "a build may be writing them", style="yellow"),
                  table(plan.spared, "dim")]
    for note in plan.notes:
        parts.append(Text(safe(note), style="red" if "dangling" in note else ""))
    return Group(*parts)


class GcPlanModal(ModalScreen[GcView | None]):
    """Shows a gc plan; returns the plan to apply, or ``None`` (Cancel, escape)."""

    DEFAULT_CSS = """
    GcPlanModal { align: center middle; }
    GcPlanModal .dialog { width: 96; }
    GcPlanModal #gc-body { height: auto; }
    GcPlanModal #gc-title { width: 100%; }
    GcPlanModal .gc-options { height: 1; margin-bottom: 1; }
    GcPlanModal .gc-options Label { width: auto; margin-right: 1; }
    GcPlanModal #gc-grace { width: 10; }
    """
    BINDINGS: ClassVar[list[BindingType]] = identify("gc", [Binding("escape", "cancel", "Cancel")])

    def __init__(self, plan: GcView, replan: Replan, now: datetime) -> None:
        super().__init__()
        self.plan = plan
        self.replan = replan
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("", id="gc-title", classes="dialog-title")
            with Horizontal(classes="gc-options"):
                yield Label("Grace")
                yield Input(format_duration(self.plan.grace), compact=True, id="gc-grace")
            with VerticalScroll(id="gc-body", classes="dialog-body"):
                yield Static("", id="gc-plan")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="gc-cancel", variant="primary")
                yield Button("Delete", id="gc-apply", variant="error")

    def on_mount(self) -> None:
        self.show_plan(self.plan)
        self.query_one("#gc-cancel", Button).focus()

    def on_resize(self) -> None:
        self.call_after_refresh(self.fit)

    def fit(self) -> None:
        fit_body(self.query_one(".dialog"), self.query_one("#gc-body"), self.size.height)

    def show_plan(self, plan: GcView) -> None:
        self.plan = plan
        self.query_one("#gc-title", Label).update(gc_title(plan))
        self.query_one("#gc-plan", Static).update(gc_body(plan, self.now))
        apply = self.query_one("#gc-apply", Button)
        apply.label = f"Delete {plan.count}"
        apply.disabled = not plan.count
        self.call_after_refresh(self.fit)

    @on(Input.Changed, "#gc-grace")
    def grace_changed(self, event: Input.Changed) -> None:
        self.query_one("#gc-apply", Button).disabled = True
        try:
            grace = parse_duration(event.value.strip() or "0s", option="grace")
        except CachetuiError as exc:
            self.query_one("#gc-title", Label).update(Text(str(exc), style="red"))
            return
        self.run_replan(grace)

    @work(exclusive=True, group="gc-replan")
    async def run_replan(self, grace: timedelta) -> None:
        await asyncio.sleep(REPLAN_DELAY)  # typing a grace replans once, not per key
        try:
            plan = await self.replan(grace)
        except CachetuiError as exc:
            self.query_one("#gc-title", Label).update(Text(str(exc), style="red"))
            return
        self.show_plan(plan)

    @on(Button.Pressed, "#gc-cancel")
    def cancel_pressed(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#gc-apply")
    def apply_pressed(self) -> None:
        if not self.query_one("#gc-apply", Button).disabled:
            self.dismiss(self.plan)

    def action_cancel(self) -> None:
        self.dismiss(None)
