"""The gc plan modal (``C`` on the main screen or in the source view, opened by
:mod:`cachetui.tui.collecting`): what a garbage collection of a cache directory deletes, what
it spares (younger than the grace period, which the user can change), focus on Cancel; the
caller runs the approved plan as a cancellable job, exactly as ``cachetui gc --yes`` would."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
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
from cachetui.ops.policy import format_duration, parse_duration
from cachetui.present import units
from cachetui.present.safe_text import safe
from cachetui.store.garbage import BlobFile, GcPlan
from cachetui.tui.keymap import identify
from cachetui.tui.modals.fit import fit_body
from cachetui.tui.model import compact_age

REPLAN_DELAY = 0.3
Replan = Callable[[timedelta], Awaitable[GcPlan]]


def gc_title(plan: GcPlan) -> str:
    """``GC: delete 3 blobs, 1.2 MiB now; 2 younger than 10m kept (300 KiB)``."""
    text = (f"GC: delete {units.count(len(plan.blobs), 'blob')}, {units.size(plan.bytes)} now"
            if plan.blobs else "GC: nothing to delete now")
    if plan.ingest:
        text += f" (+ {units.count(len(plan.ingest), 'stale ingest entry', 'stale ingest entries')})"
    if plan.spared:
        spared = sum(b.size for b in plan.spared)
        text += (f"; {len(plan.spared)} younger than {format_duration(plan.grace)} kept "
                 f"({units.size(spared)})")
    return text


def gc_body(plan: GcPlan, now: datetime) -> RenderableType:
    parts: list[RenderableType] = [Text(f"{safe(plan.location)}: {plan.reachable} blobs "
                                        "reachable from the tags stay", style="bold")]

    def table(blobs: tuple[BlobFile, ...], style: str) -> Table:
        out = Table(box=None, pad_edge=False, show_edge=False, expand=True)
        out.add_column("blob")
        out.add_column("size", justify="right")
        out.add_column("age")
        for blob in blobs:
            out.add_row(Text(blob.digest, style=style), units.size(blob.size),
                        compact_age(datetime.fromtimestamp(blob.mtime, UTC), now))
        return out

    if plan.blobs:
        parts += [Text("deleted (no tag reaches them):"), table(plan.blobs, "")]
    if plan.spared:
        parts += [Text(f"kept: younger than the grace period ({format_duration(plan.grace)}); "
                       "a build may be writing them", style="yellow"),
                  table(plan.spared, "dim")]
    for entry in plan.ingest:
        parts.append(Text(f"stale ingest: {safe(entry.name)} ({units.size(entry.size)})"))
    if plan.missing:
        parts.append(Text(f"{len(plan.missing)} blob(s) the tags reach are missing from the "
                          "directory (dangling; gc cannot bring them back)", style="red"))
    return Group(*parts)


class GcPlanModal(ModalScreen[GcPlan | None]):
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

    def __init__(self, plan: GcPlan, replan: Replan, now: datetime) -> None:
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

    def show_plan(self, plan: GcPlan) -> None:
        self.plan = plan
        self.query_one("#gc-title", Label).update(gc_title(plan))
        self.query_one("#gc-plan", Static).update(gc_body(plan, self.now))
        apply = self.query_one("#gc-apply", Button)
        apply.label = f"Delete {len(plan.blobs) + len(plan.ingest)}"
        apply.disabled = not (plan.blobs or plan.ingest)
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
