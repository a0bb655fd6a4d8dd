"""Messages workers post to screens. Workers compute, messages deliver, handlers change widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from cachetui.ops.inventory import ScanEvent
from cachetui.tui.model import SourceState


@dataclass
class SourceAdded(Message):
    """A store was opened and will be scanned (or failed to open: ``state.error``)."""

    state: SourceState


@dataclass
class ScanBatch(Message):
    """Inventory events of one source, batched so a 300-tag source costs a few repaints."""

    source_id: str
    events: list[ScanEvent]


@dataclass
class LayerSizesMeasured(Message):
    """Uncompressed sizes of layer blobs measured in the background, batched (digest → size or
    error message)."""

    sizes: dict[str, int]
    errors: dict[str, str]


@dataclass
class JobChanged(Message):
    """A job's progress or state changed; coalesced (one pending message per job)."""

    job_id: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, JobChanged) and message.job_id == self.job_id


@dataclass
class JobEnded(Message, bubble=False):
    """A job finished, failed or was cancelled; main screens refresh the sources it names.

    Posted to the app, which forwards a copy to each main screen; it must not bubble back.
    """

    job_id: int
    state: str
    refresh: tuple[str, ...]
