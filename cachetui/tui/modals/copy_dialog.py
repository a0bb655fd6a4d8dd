"""The copy dialog: a destination that validates as you type, then the plan, then Copy.

The plan (:func:`cachetui.ops.copy.plan_copy`: blobs to copy, mount or skip and their bytes) is
recomputed whenever the destination text becomes valid, and shown in the CLI's words; Copy is
enabled only while a plan for the current text is shown. The dialog returns a :class:`CopyOrder`
that the caller runs as a job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from cachetui.errors import CachetuiError
from cachetui.locations import Location
from cachetui.ops.copy import CopyPlan, plan_copy
from cachetui.present.plans import describe_copy_plan
from cachetui.present.safe_text import safe
from cachetui.store.base import Store
from cachetui.tui.destinations import DestinationRules
from cachetui.tui.keymap import identify
from cachetui.tui.modals.destination_input import DestinationInput

OpenDestination = Callable[[Location], Awaitable[Store]]
"""Opens a destination off the event loop (:func:`cachetui.tui.opening.open_destination`)."""
PLAN_DELAY = 0.15


@dataclass(frozen=True, slots=True)
class Picked:
    """A cache chosen on the main screen: its store, source id and tag."""

    store: Store
    source_id: str
    tag: str


@dataclass(frozen=True, slots=True)
class CopyOrder:
    """What the dialog decided: the destination and one plan per source store."""

    spec: Location
    destination: Store
    plans: tuple[tuple[Store, CopyPlan], ...]

    @property
    def total_bytes(self) -> int:
        return sum(plan.total_bytes for _, plan in self.plans)


def group_by_store(picks: list[Picked]) -> list[tuple[Store, list[str]]]:
    stores: dict[str, Store] = {}
    tags: dict[str, list[str]] = {}
    for pick in picks:
        stores.setdefault(pick.store.location, pick.store)
        tags.setdefault(pick.store.location, []).append(pick.tag)
    return [(stores[location], names) for location, names in tags.items()]


class CopyDialog(ModalScreen[CopyOrder | None]):
    DEFAULT_CSS = """
    CopyDialog { align: center middle; }
    CopyDialog .dialog { width: 96; }
    CopyDialog #copy-plan { height: auto; max-height: 14; margin-top: 1; }
    CopyDialog #copy-error { height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = identify("copy", [Binding("escape", "cancel", "Cancel")])

    def __init__(self, picks: list[Picked], rules: DestinationRules, known: list[str],
                 open_destination: OpenDestination, *, value: str = "") -> None:
        super().__init__()
        self.picks = picks
        self.rules = rules
        self.known = known
        self.open_destination = open_destination
        self.initial = value
        self.order: CopyOrder | None = None

    def compose(self) -> ComposeResult:
        count = len(self.picks)
        with Vertical(classes="dialog"):
            yield Label(f"Copy {count} cache{'s' if count != 1 else ''}", classes="dialog-title")
            picked = ", ".join(f"{p.source_id}:{p.tag}" for p in self.picks)
            yield Label(Text(safe(picked)), id="copy-what")
            yield Label("Destination (→ completes; a new directory is created):")
            yield DestinationInput(self.rules, self.known, value=self.initial, id="copy-dest")
            yield Label("", id="copy-error", classes="dialog-error")
            with VerticalScroll(id="copy-plan", classes="dialog-body"):
                yield Static("", id="copy-plan-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="copy-cancel")
                yield Button("Copy", id="copy-apply", variant="primary", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#copy-dest", DestinationInput).focus()
        self.destination_changed()

    @on(Input.Changed, "#copy-dest")
    def destination_changed(self) -> None:
        field = self.query_one("#copy-dest", DestinationInput)
        self.order = None
        self.query_one("#copy-apply", Button).disabled = True
        problem = field.problem() if field.value.strip() else ""
        self.query_one("#copy-error", Label).update(problem)
        spec = field.spec()
        if spec is None:
            self.query_one("#copy-plan-text", Static).update(
                "" if problem else "Type a directory or HOST/REPO[:TAG].")
            return
        self.query_one("#copy-plan-text", Static).update("planning…")
        self.plan(spec)

    @work(exclusive=True, group="copy-plan", exit_on_error=False)
    async def plan(self, spec: Location) -> None:
        await asyncio.sleep(PLAN_DELAY)  # typing goes on: the next key cancels this plan
        try:
            destination = await self.open_destination(spec)
            plans = [(store, await plan_copy(store, tags, destination, spec.tag))
                     for store, tags in group_by_store(self.picks)]
        except CachetuiError as exc:
            self.query_one("#copy-error", Label).update(str(exc))
            self.query_one("#copy-plan-text", Static).update("")
            return
        if self.query_one("#copy-dest", DestinationInput).spec() != spec:
            return  # the text changed while planning
        self.order = CopyOrder(spec, destination, tuple(plans))
        self.query_one("#copy-plan-text", Static).update(
            "\n".join(describe_copy_plan(plan) for _, plan in plans))
        self.query_one("#copy-apply", Button).disabled = False

    @on(Input.Submitted, "#copy-dest")
    def submitted(self) -> None:
        self.apply_pressed()

    @on(Button.Pressed, "#copy-apply")
    def apply_pressed(self) -> None:
        if self.order is not None:
            self.dismiss(self.order)

    @on(Button.Pressed, "#copy-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
