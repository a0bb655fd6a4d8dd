"""The prune plan modal of the main screen's ``d`` (opened by :mod:`cachetui.tui.pruning`).

The modal shows every item with the rule that selected it, the bytes it frees and its collateral
tags (registry tags on the same manifest), totals per source and the notes of the plan. Focus
starts on Cancel (peers.md §2.17: stray keys must not delete); more than
:data:`TYPED_CONFIRM_OVER` items need the confirmation typed out. Shared tags are only deleted after
the user ticks the box that re-plans with them. The caller runs the approved plan as a job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from cachetui.errors import CachetuiError
from cachetui.ops.policy import format_duration, parse_duration
from cachetui.ops.prune_model import PrunePlan
from cachetui.present import units
from cachetui.present.safe_text import safe
from cachetui.tui.keymap import identify
from cachetui.tui.modals.fit import fit_body

if TYPE_CHECKING:
    from cachetui.tui.model import Row

TYPED_CONFIRM_OVER = 10
REPLAN_DELAY = 0.3
MARKED = ""
"""The rule choice that prunes exactly the marked caches (the others are config policy names)."""


@dataclass(frozen=True, slots=True)
class PruneOptions:
    """What the modal's controls ask the planner for."""

    include_shared: bool = False
    grace: timedelta | None = None
    """``None``: the policy's own (10 minutes unless the config says otherwise)."""
    policy: str = MARKED


Replan = Callable[[PruneOptions], Awaitable[PrunePlan]]


def freed_text(plan: PrunePlan) -> str:
    """``frees 1.2 MiB now, 600 KiB more after the grace period (10m)``: both figures, always
    together, so the plan and the status bar never seem to disagree."""
    text = f"frees {units.size(plan.total_bytes)} now"
    if plan.spared_bytes:
        grace = format_duration(plan.policy.grace)
        text += f", {units.size(plan.spared_bytes)} more after the grace period ({grace})"
    return text


def title_text(plan: PrunePlan) -> str:
    count = plan.item_count
    if not count and not plan.total_bytes:
        return "Nothing to prune: no cache matches"
    return f"Prune {units.count(count, 'cache')}: {freed_text(plan)}"


def confirmation_phrase(count: int) -> str:
    return f"delete {count}"


def plan_body(plan: PrunePlan) -> RenderableType:
    """Every item, its rule, bytes freed and collateral; totals and notes per source."""
    parts: list[RenderableType] = []
    for source in plan.sources:
        parts.append(Text(f"{safe(source.location)} ({source.kind})", style="bold"))
        table = Table(box=None, pad_edge=False, show_edge=False, expand=True)
        for column, justify in (("tag", "left"), ("rule", "left"), ("frees", "right"),
                                ("also deletes", "left")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for item in source.items:
            style = "dim strike" if item.blocked else ""
            table.add_row(Text(safe(item.tag), style=style), item.rule, units.size(item.frees_bytes),
                          Text(safe(", ".join(item.collateral)) or "-",
                               style="bold red" if item.collateral and not item.blocked else ""))
        parts.append(table)
        for item in source.blocked:
            parts.append(Text(f"  kept {safe(item.tag)}: {safe(item.blocked or '')}", style="yellow"))
        if source.garbage_blobs:
            parts.append(Text(f"  + {source.garbage_blobs} unreferenced blobs "
                              f"({units.size(source.garbage_bytes)})"))
        for note in source.notes:
            parts.append(Text(f"  note: {safe(note)}", style="dim"))
        for problem in source.problems:
            parts.append(Text(f"  problem: {safe(problem)}", style="red"))
        parts.append(Text(f"  {len(source.active)} to delete, frees "
                          f"{units.size(source.total_bytes)}\n"))
    return Group(*parts)


def collateral_count(plan: PrunePlan) -> int:
    return sum(len(item.collateral) for source in plan.sources for item in source.items)


class PrunePlanModal(ModalScreen[PrunePlan | None]):
    """Shows a plan; returns the plan to apply, or ``None`` (Cancel, escape)."""

    DEFAULT_CSS = """
    PrunePlanModal { align: center middle; }
    PrunePlanModal .dialog { width: 96; }
    PrunePlanModal #prune-body { height: auto; }
    PrunePlanModal #prune-typed { margin-top: 1; }
    PrunePlanModal #prune-title { width: 100%; }
    PrunePlanModal .prune-options { height: 1; margin-bottom: 1; }
    PrunePlanModal .prune-options Label { width: auto; margin-right: 1; }
    PrunePlanModal #prune-policy { width: 24; margin-right: 2; }
    PrunePlanModal #prune-grace { width: 10; }
    """
    BINDINGS: ClassVar[list[BindingType]] = identify("prune", [Binding("escape", "cancel", "Cancel")])

    def __init__(self, plan: PrunePlan, replan: Replan | None = None, *,
                 policies: Sequence[str] = ()) -> None:
        super().__init__()
        self.plan = plan
        self.replan = replan
        self.policies = list(policies)
        self.shared_offered = collateral_count(plan) > 0

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("", id="prune-title", classes="dialog-title")
            if self.replan is not None:
                with Horizontal(classes="prune-options"):
                    yield Label("Rule")
                    yield Select([("the marked caches", MARKED),
                                  *((f"policy {name}", name) for name in self.policies)],
                                 value=MARKED, allow_blank=False, compact=True,
                                 id="prune-policy")
                    yield Label("Grace")
                    yield Input(format_duration(self.plan.policy.grace), compact=True,
                                id="prune-grace")
            with VerticalScroll(id="prune-body", classes="dialog-body"):
                yield Static(plan_body(self.plan), id="prune-plan")
            if self.shared_offered:
                yield Checkbox("Also delete the other tags on the same manifests",
                               self.plan.policy.include_shared_tags, id="prune-shared")
            yield Input(placeholder="", id="prune-typed")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="prune-cancel", variant="primary")
                yield Button("Delete", id="prune-apply", variant="error")

    def on_mount(self) -> None:
        self.show_plan(self.plan)
        self.query_one("#prune-cancel", Button).focus()

    def on_resize(self) -> None:
        self.call_after_refresh(self.fit)

    def fit(self) -> None:
        """The plan scrolls; the confirmation field and the buttons always show whole."""
        fit_body(self.query_one(".dialog"), self.query_one("#prune-body"), self.size.height)

    @property
    def needs_typing(self) -> bool:
        return self.plan.item_count > TYPED_CONFIRM_OVER

    def show_plan(self, plan: PrunePlan) -> None:
        self.plan = plan
        count = plan.item_count
        self.query_one("#prune-title", Label).update(title_text(plan))
        self.query_one("#prune-plan", Static).update(plan_body(plan))
        typed = self.query_one("#prune-typed", Input)
        typed.display = self.needs_typing
        typed.placeholder = f"type '{confirmation_phrase(count)}' to confirm"
        self.query_one("#prune-apply", Button).label = f"Delete {count}"
        self.update_apply()
        self.call_after_refresh(self.fit)

    def update_apply(self) -> None:
        ready = self.plan.has_work
        if self.needs_typing:
            typed = self.query_one("#prune-typed", Input).value.strip()
            ready = ready and typed == confirmation_phrase(self.plan.item_count)
        self.query_one("#prune-apply", Button).disabled = not ready

    @on(Input.Changed, "#prune-typed")
    def typed_changed(self) -> None:
        self.update_apply()

    def options(self) -> PruneOptions:
        """The controls' values; a malformed grace is an :class:`InvalidInput`."""
        shared = self.query("#prune-shared")
        grace_text = self.query_one("#prune-grace", Input).value.strip()
        return PruneOptions(
            include_shared=bool(shared) and self.query_one("#prune-shared", Checkbox).value,
            grace=parse_duration(grace_text, option="grace") if grace_text else None,
            policy=str(self.query_one("#prune-policy", Select).value))

    @on(Checkbox.Changed, "#prune-shared")
    @on(Input.Changed, "#prune-grace")
    @on(Select.Changed, "#prune-policy")
    def options_changed(self) -> None:
        if self.replan is None:
            return
        self.query_one("#prune-apply", Button).disabled = True
        try:
            options = self.options()
        except CachetuiError as exc:
            self.query_one("#prune-title", Label).update(Text(str(exc), style="red"))
            return
        self.run_replan(options)

    @work(exclusive=True, group="prune-replan")
    async def run_replan(self, options: PruneOptions) -> None:
        assert self.replan is not None
        await asyncio.sleep(REPLAN_DELAY)  # typing a grace replans once, not per key
        try:
            plan = await self.replan(options)
        except CachetuiError as exc:
            self.query_one("#prune-title", Label).update(Text(str(exc), style="red"))
            return
        self.show_plan(plan)

    @on(Button.Pressed, "#prune-cancel")
    def cancel_pressed(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#prune-apply")
    def apply_pressed(self) -> None:
        self.update_apply()
        if not self.query_one("#prune-apply", Button).disabled:
            self.dismiss(self.plan)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _row_blobs(row: Row) -> dict[str, int]:
    analysis = row.entry.analysis
    if analysis is None:
        return {}
    document = analysis.document
    blobs = {str(document.top.digest): len(document.top.raw)}
    if document.config_descriptor is not None:
        blobs[document.config_descriptor.digest] = document.config_descriptor.size
    for layer in document.layers:
        blobs[layer.digest] = layer.size
    return blobs


def freed_estimate(marked: Iterable[Row], rows: Iterable[Row]) -> int:
    """Bytes the marked caches would free: blobs that no unmarked cache of the same source uses,
    each counted once (for the footer; the plan modal has the exact figure)."""
    marked = list(marked)
    marked_keys = {row.key for row in marked}
    kept: dict[str, set[str]] = {}
    for row in rows:
        if row.key not in marked_keys:
            kept.setdefault(row.source_id, set()).update(_row_blobs(row))
    freed: dict[tuple[str, str], int] = {}
    for row in marked:
        for digest, size in _row_blobs(row).items():
            if digest not in kept.get(row.source_id, set()):
                freed[(row.source_id, digest)] = size
    return sum(freed.values())
