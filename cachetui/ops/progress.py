"""Progress and cancellation now live in :mod:`cachetui.progress` (stores use them too)."""

from cachetui.progress import CancelToken, Progress, ProgressSink, no_progress

__all__ = ["CancelToken", "Progress", "ProgressSink", "no_progress"]
