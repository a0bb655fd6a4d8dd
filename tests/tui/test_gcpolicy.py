"""The UI's garbage-collector policy: loaded caches are frozen while sources load (full
collections would otherwise walk all of them again and again while the table fills), young
garbage is freed first rather than frozen, and young collections keep CPython's short pace."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable

import pytest

from cachetui.tui import gcpolicy
from cachetui.tui.app import CachetuiApp
from tests.tui.conftest import settle


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_freeze_frees_young_garbage_before_freezing() -> None:
    before = gc.get_freeze_count()
    try:
        garbage = _Cycle()
        gone = weakref.ref(garbage)
        del garbage
        kept = _Cycle()
        gcpolicy.freeze_loaded()
        assert gone() is None  # collected, not frozen
        assert gc.get_freeze_count() > before  # what is alive is frozen
        assert kept.me is kept
    finally:
        gc.unfreeze()
        if before:
            gc.freeze()


async def test_loading_sources_freezes_what_they_loaded(
        app_factory: Callable[..., CachetuiApp], monkeypatch: pytest.MonkeyPatch) -> None:
    freezes: list[int] = []
    original = gcpolicy.freeze_loaded

    def counted() -> None:
        freezes.append(1)
        original()

    monkeypatch.setattr(gcpolicy, "freeze_loaded", counted)
    saved = gc.get_threshold()
    try:
        gc.set_threshold(20_000, 10, 10)  # as the CLI leaves it before it opens the UI
        app = app_factory()
        assert gc.get_threshold() == gcpolicy.UI_THRESHOLD
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await settle(pilot)
        assert freezes  # one per finished source at least
    finally:
        gc.set_threshold(*saved)
