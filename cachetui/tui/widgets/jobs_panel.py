"""The jobs panel: one line per background job with a progress bar, rate, ETA and state."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar

from cachetui.tui.jobs import Job, JobState, format_eta, format_rate

KEEP_FINISHED = 3


class JobLine(Horizontal):
    """A job: title, bar, figures."""

    def __init__(self, job: Job) -> None:
        super().__init__(id=f"job-{job.id}", classes="job-line")
        self.job = job

    def compose(self) -> ComposeResult:
        yield Label(self.job.title, classes="job-title")
        yield ProgressBar(total=None, show_eta=False, show_percentage=True, classes="job-bar")
        yield Label("", classes="job-figures")

    def on_mount(self) -> None:
        self.sync()

    def sync(self) -> None:
        job = self.job
        bar = self.query_one(ProgressBar)
        progress = job.progress
        if progress is not None:
            bar.update(total=progress.total, progress=progress.done)
        if job.state is JobState.DONE and bar.total is None:
            bar.update(total=1, progress=1)
        figures = [format_rate(job), format_eta(job.eta())]
        if job.state is not JobState.RUNNING:
            figures = [str(job.state)] + ([job.error] if job.error else [])
        elif progress is not None and progress.detail:
            figures.insert(0, progress.detail)
        label = self.query_one(".job-figures", Label)
        label.update("  ".join(f for f in figures if f))
        self.set_class(job.state is JobState.FAILED, "-failed")
        self.set_class(job.state is not JobState.RUNNING, "-ended")


class JobsPanel(Vertical):
    """Hidden while there is no job; the app calls :meth:`sync` when a job changes."""

    def on_mount(self) -> None:
        jobs = getattr(self.app, "jobs", {})
        for job in jobs.values():
            self.sync(job)
        self.display = bool(self.children)

    def sync(self, job: Job) -> None:
        lines = {line.job.id: line for line in self.query(JobLine)}
        line = lines.get(job.id)
        if line is None:
            line = JobLine(job)
            self.mount(line)
            ended = [ln for ln in lines.values() if not ln.job.running]
            for old in ended[: max(len(ended) - KEEP_FINISHED + 1, 0)]:
                old.remove()
        elif line.is_mounted:
            line.sync()
        self.display = True
