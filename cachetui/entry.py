"""The ``cachetui`` program: the CLI, with the terminal UI as its launcher.

This is the only module that sees both front ends: ``cli`` parses the command line and runs
commands, ``tui`` is the app; ``open`` and ``demo`` reach the app through the launcher registered
here (:mod:`cachetui.cli.ui`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from cachetui import startup

startup.skip_httpx_cli()  # before the CLI imports httpx

from cachetui import cli  # noqa: E402
from cachetui.cli import ui  # noqa: E402


async def launch_ui(request: ui.UiRequest) -> None:
    from cachetui.tui import app  # Textual loads only when the UI opens

    instance = app.make_app(request.sources, config=request.config, read_only=request.read_only,
                            demo=request.demo, clock=request.clock,
                            use_config_sources=request.use_config_sources,
                            registry_settings=request.registry_settings)
    await instance.run_async()


def install() -> None:
    """Register the terminal UI as the CLI's launcher."""
    ui.set_launcher(launch_ui)


def main(argv: Sequence[str] | None = None) -> int:
    install()
    return cli.main(argv)


def entry() -> NoReturn:
    startup.pause_gc()  # until the command's modules are loaded (cli.common.run_command)
    startup.pace_gc()
    install()
    cli.entry()
