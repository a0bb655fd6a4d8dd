"""The re-export dialog: options, a destination, and the plan that follows every change.

The plan (:func:`cachetui.ops.reexport.plan_reexport`: layers to re-encode, keep or drop, bytes
in, expected bytes out) is recomputed whenever an option or the destination changes; invalid
combinations show the planner's message (BuildKit's own for image-manifest with Docker media
types) and disable Re-export. The destination defaults to the source with a new tag
(``<tag>-zstd``) and follows the compression until the user edits it.
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
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from cachetui.errors import CachetuiError, InvalidInput
from cachetui.locations import Location
from cachetui.oci.mediatypes import Compression
from cachetui.ops.reexport import ReexportPlan, ReexportSettings, plan_reexport
from cachetui.present.plans import describe_reexport_plan
from cachetui.present.safe_text import safe
from cachetui.store.base import Store
from cachetui.tui.destinations import DestinationRules
from cachetui.tui.keymap import identify
from cachetui.tui.modals.copy_dialog import PLAN_DELAY
from cachetui.tui.modals.destination_input import DestinationInput
from cachetui.tui.modals.fit import fit_body

OpenDestination = Callable[[Location], Awaitable[Store]]
"""Opens a destination off the event loop (:func:`cachetui.tui.opening.open_destination`)."""
KEEP = "keep"

COMPRESSIONS = [("zstd", "zstd"), ("gzip", "gzip"), ("uncompressed", "uncompressed"),
                ("keep each layer's", KEEP)]
MEDIA_TYPES = [("as the source", KEEP), ("OCI", "oci"), ("Docker", "docker")]
FORMS = [("as the source", KEEP), ("image-manifest", "image-manifest"), ("index", "index")]


@dataclass(frozen=True, slots=True)
class ReexportOrder:
    plan: ReexportPlan
    source: Store
    destination: Store
    spec: Location


def default_destination(source: Store, tag: str, compression: str) -> str:
    """The source itself with a new tag: ``<tag>-<compression>`` (``<tag>-reexport`` to keep)."""
    suffix = compression if compression != KEEP else "reexport"
    location = source.location
    if source.kind == "directory" and not location.startswith(("/", ".", "~")):
        location = f"./{location}"  # never read as a registry name
    return f"{location}:{tag}-{suffix}"


class ReexportDialog(ModalScreen[ReexportOrder | None]):
    # One-row (compact) controls: every option, the destination, the plan and the buttons fit a
    # 76-column dialog on an 80x24 terminal; the plan scrolls when it is longer than what is left.
    DEFAULT_CSS = """
    ReexportDialog { align: center middle; }
    ReexportDialog .reexport-row { height: 1; margin-bottom: 1; }
    ReexportDialog .reexport-row Label { width: 13; }
    ReexportDialog .reexport-row #reexport-form-label { width: 6; margin-left: 1; }
    ReexportDialog .reexport-row Select { width: 20; }
    ReexportDialog #reexport-level { width: 9; margin-left: 1; }
    ReexportDialog .reexport-row Checkbox { width: auto; margin-left: 1; }
    ReexportDialog #reexport-plan-scroll { height: auto; margin-top: 1; }
    ReexportDialog #reexport-plan { height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = identify("reexport", [Binding("escape", "cancel", "Cancel")])

    def __init__(self, source: Store, source_id: str, tag: str, rules: DestinationRules,
                 known: list[str], open_destination: OpenDestination, *,
                 uncompressed_sizes: dict[str, int] | None = None) -> None:
        super().__init__()
        self.source = source
        self.source_id = source_id
        self.tag = tag
        self.rules = rules
        self.known = known
        self.open_destination = open_destination
        self.uncompressed_sizes = uncompressed_sizes
        self.order: ReexportOrder | None = None
        self.default = default_destination(source, tag, COMPRESSIONS[0][1])

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(f"Re-export {safe(self.source_id)}:{safe(self.tag)}"),
                        classes="dialog-title")
            with Horizontal(classes="reexport-row"):
                yield Label("Compression")
                yield Select(COMPRESSIONS, value=COMPRESSIONS[0][1], allow_blank=False,
                             id="reexport-compression", compact=True)
                # Empty is valid (the codec's default level): without valid_empty the box
                # turned red as soon as tab passed it.
                yield Input(placeholder="level", type="integer", id="reexport-level",
                            compact=True, valid_empty=True)
                yield Checkbox("force", id="reexport-force", compact=True)
            with Horizontal(classes="reexport-row"):
                yield Label("Media types")
                yield Select(MEDIA_TYPES, value=KEEP, allow_blank=False, id="reexport-media",
                             compact=True)
                yield Label("Form", id="reexport-form-label")
                yield Select(FORMS, value=KEEP, allow_blank=False, id="reexport-form",
                             compact=True)
                yield Checkbox("min", id="reexport-min", compact=True)
            yield Label("Destination (→ completes):")
            yield DestinationInput(self.rules, self.known, value=self.default, id="reexport-dest",
                                   compact=True)
            yield Label("", id="reexport-error", classes="dialog-error")
            with VerticalScroll(id="reexport-plan-scroll"):
                yield Static("", id="reexport-plan", classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="reexport-cancel")
                yield Button("Re-export", id="reexport-apply", variant="primary", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#reexport-compression", Select).focus()
        self.replan()

    def on_resize(self) -> None:
        self.call_after_refresh(self.fit)

    def fit(self) -> None:
        fit_body(self.query_one(".dialog"), self.query_one("#reexport-plan-scroll"),
                 self.size.height)

    # ---- options --------------------------------------------------------------------------

    def settings(self) -> ReexportSettings:
        """The options as settings; a malformed level is an :class:`InvalidInput`."""
        compression = str(self.query_one("#reexport-compression", Select).value)
        level_text = self.query_one("#reexport-level", Input).value.strip()
        media = str(self.query_one("#reexport-media", Select).value)
        form = str(self.query_one("#reexport-form", Select).value)
        try:
            level = int(level_text) if level_text else None
        except ValueError:
            raise InvalidInput(f"level must be a number, got {level_text!r}") from None
        if level is not None and compression == KEEP:
            raise InvalidInput("a level needs a compression")
        return ReexportSettings(
            compression=None if compression == KEEP else Compression(compression),
            level=level,
            force=self.query_one("#reexport-force", Checkbox).value,
            oci_mediatypes=None if media == KEEP else media == "oci",
            image_manifest=None if form == KEEP else form == "image-manifest",
            minimal=self.query_one("#reexport-min", Checkbox).value,
        )

    @on(Select.Changed, "#reexport-compression")
    def compression_changed(self, event: Select.Changed) -> None:
        field = self.query_one("#reexport-dest", DestinationInput)
        if field.value == self.default:
            self.default = default_destination(self.source, self.tag, str(event.value))
            field.value = self.default  # Input.Changed replans
        else:
            self.replan()

    @on(Select.Changed, "#reexport-media")
    @on(Select.Changed, "#reexport-form")
    @on(Checkbox.Changed)
    @on(Input.Changed)
    def option_changed(self) -> None:
        self.replan()

    def replan(self) -> None:
        self.order = None
        self.query_one("#reexport-apply", Button).disabled = True
        error = self.query_one("#reexport-error", Label)
        try:
            settings = self.settings()
        except CachetuiError as exc:
            error.update(str(exc))
            return
        field = self.query_one("#reexport-dest", DestinationInput)
        error.update(field.problem())
        self.plan(settings, field.spec())

    @work(exclusive=True, group="reexport-plan", exit_on_error=False)
    async def plan(self, settings: ReexportSettings, spec: Location | None) -> None:
        """Plans even while the destination is invalid (against the source), so options show."""
        await asyncio.sleep(PLAN_DELAY)  # the next change cancels this plan
        try:
            destination = await self.open_destination(spec) if spec is not None else self.source
            plan = await plan_reexport(self.source, self.tag, destination,
                                       spec.tag if spec is not None else None, settings,
                                       uncompressed_sizes=self.uncompressed_sizes)
        except CachetuiError as exc:
            self.query_one("#reexport-error", Label).update(str(exc))
            self.query_one("#reexport-plan", Static).update("")
            return
        self.query_one("#reexport-plan", Static).update(describe_reexport_plan(plan))
        self.call_after_refresh(self.fit)
        if spec is not None:
            self.order = ReexportOrder(plan, self.source, destination, spec)
            self.query_one("#reexport-apply", Button).disabled = False

    # ---- buttons --------------------------------------------------------------------------

    @on(Input.Submitted, "#reexport-dest")
    @on(Button.Pressed, "#reexport-apply")
    def apply_pressed(self) -> None:
        if self.order is not None:
            self.dismiss(self.order)

    @on(Button.Pressed, "#reexport-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
