"""What screens and actions need from the app, as a protocol.

Screens are created by the app, so importing the app class from a screen would be an import
cycle; they see the app through this protocol instead (``ExtensibleScreen.cachetui``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cachetui.config import Config
    from cachetui.locations import Workspace
    from cachetui.ops.load import DocumentMemo
    from cachetui.ops.uncompressed import UncompressedSizes
    from cachetui.tui.jobs import Job, JobRun


class AppContext(Protocol):
    """The app's shared state: settings, caches of parsed documents, the workspace, jobs."""

    config: Config
    read_only: bool
    now: Callable[[], datetime]
    memo: DocumentMemo
    workspace: Workspace
    uncompressed: UncompressedSizes

    def start_job(self, title: str, run: JobRun, *, refresh: tuple[str, ...] = ()) -> Job:
        """Run ``run(sink, token)`` in the background with a line in the jobs panel."""
        ...
