"""The cachetui app and :func:`make_app`, the one constructor the CLI, tests and scripts use."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.driver import Driver
from textual.worker import Worker, WorkerState

from cachetui.config import Config
from cachetui.errors import CachetuiError, Cancelled
from cachetui.locations import SourceRequest, Workspace
from cachetui.ops.load import DocumentMemo
from cachetui.ops.uncompressed import UncompressedSizes
from cachetui.tui import extensions, gcpolicy
from cachetui.tui.ascii_output import ascii_driver, output_is_ascii, to_ascii
from cachetui.tui.commands import ScreenCommands
from cachetui.tui.jobs import Job, JobRun, JobState
from cachetui.tui.keymap import identify
from cachetui.tui.messages import JobChanged, JobEnded
from cachetui.tui.screens.base import ExtensibleScreen
from cachetui.tui.screens.help import HelpScreen, bindings_of
from cachetui.tui.screens.main import MainScreen
from cachetui.tui.widgets.jobs_panel import JobsPanel

if TYPE_CHECKING:
    from cachetui.store.registry.settings import RegistrySettings

Clock = Callable[[], datetime]


class CachetuiApp(App[None]):
    CSS_PATH = "styles/app.tcss"
    TITLE = "cachetui"
    COMMANDS: ClassVar = App.COMMANDS | {ScreenCommands}
    BINDINGS: ClassVar[list[BindingType]] = identify("app", [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+q", "quit", "Quit", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f1", "help", "Help", show=False),
        Binding("x", "cancel_job", "Cancel job"),
    ])

    def __init__(self, requests: list[SourceRequest], *, workspace: Workspace,
                 clock: Clock | None = None) -> None:
        self.ascii_only = output_is_ascii()  # read by get_driver_class during __init__
        super().__init__()
        self.requests = requests
        self.workspace = workspace
        self.config = workspace.config
        self.read_only = workspace.read_only
        self.now: Clock = clock or (lambda: datetime.now(UTC))
        self.memo = DocumentMemo()
        self.uncompressed = UncompressedSizes()
        self.jobs: dict[int, Job] = {}
        self._next_job = 1
        extensions.load_extensions()

    def get_key_display(self, binding: Binding) -> str:
        display = super().get_key_display(binding)
        if self.ascii_only:
            return to_ascii(display.replace("⏎", "enter"))
        return display

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver, translated to ASCII when the terminal cannot show the glyphs."""
        driver = super().get_driver_class()
        return ascii_driver(driver) if self.ascii_only else driver

    def on_mount(self) -> None:
        # A full collection scans every tracked object: with Textual's widgets and styles alive
        # it took 50-130 ms, a stall the user feels. What exists once the main screen is up
        # lives until exit, so it is frozen (exempt from collection) while the app runs; any
        # garbage frozen with it is collected after exit (unfreeze in on_unmount).
        gc.freeze()
        if self.config.keymap:
            self.set_keymap(self.config.keymap)
        self.push_screen(MainScreen(self.requests))
        self.call_after_refresh(gc.freeze)

    async def on_unmount(self) -> None:
        gc.unfreeze()
        for job in self.jobs.values():
            if job.running:
                job.cancel()
        try:
            await self.workspace.aclose()
        except CachetuiError:
            pass

    # ---- help -------------------------------------------------------------------------------

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        title = type(screen).__name__.removesuffix("Screen").lower() or "cachetui"
        self.push_screen(HelpScreen(f"{title} screen", bindings_of(screen)))

    # ---- jobs -------------------------------------------------------------------------------

    def start_job(self, title: str, run: JobRun, *, refresh: tuple[str, ...] = ()) -> Job:
        """Run ``run(sink, token)`` in the background with a line in the jobs panel.

        ``refresh`` names source ids (store locations) the main screen rescans when it ends.
        """
        job = Job(self._next_job, title, refresh=refresh)
        self._next_job += 1
        self.jobs[job.id] = job

        def sink(progress: object) -> None:
            job.progress = progress  # type: ignore[assignment]
            if not job.posted:
                job.posted = True
                self.post_message(JobChanged(job.id))

        async def body() -> None:
            try:
                job.result = await run(sink, job.token)
                job.state = JobState.DONE
            except Cancelled:
                job.state = JobState.CANCELLED
            except CachetuiError as exc:
                job.state, job.error = JobState.FAILED, str(exc)
            except asyncio.CancelledError:
                job.state = JobState.CANCELLED
                raise
            finally:
                job.ended = time.monotonic()
                self.post_message(JobEnded(job.id, str(job.state), job.refresh))

        job.worker = self.run_worker(body(), group="jobs", name=f"job-{job.id}",
                                     exit_on_error=False)
        self._sync_job(job)
        return job

    def _sync_job(self, job: Job) -> None:
        for screen in self.screen_stack:
            for panel in screen.query(JobsPanel):
                panel.sync(job)
        self.refresh_bindings()

    @on(JobChanged)
    def job_changed(self, message: JobChanged) -> None:
        job = self.jobs.get(message.job_id)
        if job is not None:
            job.posted = False
            self._sync_job(job)

    @on(JobEnded)
    def job_ended(self, message: JobEnded) -> None:
        job = self.jobs.get(message.job_id)
        if job is None:
            return
        self._sync_job(job)
        severity = {"done": "information", "cancelled": "warning"}.get(message.state, "error")
        self.notify(job.error or f"{job.title}: {message.state}", title=job.title,
                    severity=severity)  # type: ignore[arg-type]
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.post_message(JobEnded(message.job_id, message.state, message.refresh))

    def running_jobs(self) -> list[Job]:
        return [job for job in self.jobs.values() if job.running]

    def action_cancel_job(self) -> None:
        running = self.running_jobs()
        if running:
            running[-1].cancel()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_job":
            return True if self.running_jobs() else None  # listed (dimmed) while idle
        return True

    def on_key(self, event: events.Key) -> None:
        """A key whose binding is dimmed right now says why instead of doing nothing.

        Textual drops a disabled binding's key silently; a user pressing ``=`` with nothing
        marked, or ``x`` with no job, would see no answer at all.
        """
        active = self.screen.active_bindings.get(event.key)
        if active is None or active.enabled:
            return
        action = active.binding.action
        reason = (active.node.unavailable_reason(action)
                  if isinstance(active.node, ExtensibleScreen) else None)
        if reason is None and action in ("cancel_job", "app.cancel_job"):
            reason = "no job is running"
        self.notify(reason or "not available here right now",
                    title=active.binding.description or action, severity="warning", timeout=3)

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """Workers never crash the app: an unexpected error becomes a toast."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(str(error) if isinstance(error, CachetuiError) else
                        f"{type(error).__name__}: {error}", title=event.worker.name,
                        severity="error")


def make_app(sources: list[str], *, config: Config | None = None, read_only: bool = False,
             demo: bool = False, clock: Clock | None = None, use_config_sources: bool = True,
             registry_settings: RegistrySettings | None = None) -> CachetuiApp:
    """The app on ``sources`` (plus the config file's sources unless ``use_config_sources`` is off).

    ``clock`` fixes "now" for humanized ages (snapshot tests). ``demo`` titles the app as a demo.
    ``registry_settings`` (the CLI's registry flags applied to the config) default to the
    config file's.
    """
    gcpolicy.for_ui()
    workspace = Workspace(config, registry_settings=registry_settings, read_only=read_only)
    requests = workspace.requests(sources, use_config_sources=use_config_sources)
    app = CachetuiApp(requests, workspace=workspace, clock=clock)
    if demo:
        app.sub_title = "demo"
    return app
