"""How ``cachetui open`` and ``cachetui demo`` start the terminal UI without importing it.

``cli`` and ``tui`` are independent layers; the program entry (:mod:`cachetui.entry`), which sits
above both, registers the launcher before the command line is parsed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cachetui.errors import UnsupportedOperation

if TYPE_CHECKING:
    from cachetui.config import Config
    from cachetui.store.registry.settings import RegistrySettings


@dataclass(frozen=True, slots=True)
class UiRequest:
    """What the UI opens on, and with which settings (see ``cachetui.tui.app.make_app``)."""

    sources: list[str]
    config: Config | None = None
    read_only: bool = False
    demo: bool = False
    clock: Callable[[], datetime] | None = None
    use_config_sources: bool = True
    registry_settings: RegistrySettings | None = None


LaunchUi = Callable[[UiRequest], Awaitable[None]]

_launcher: LaunchUi | None = None


def set_launcher(launcher: LaunchUi | None) -> None:
    """Called once by the program entry."""
    global _launcher
    _launcher = launcher


async def launch(request: UiRequest) -> None:
    """Run the UI until it exits."""
    if _launcher is None:
        raise UnsupportedOperation("the terminal UI is not available (no launcher registered)")
    await _launcher(request)
