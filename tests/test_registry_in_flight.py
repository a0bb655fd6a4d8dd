"""How many reads a listing keeps in flight to one registry: 16 unless configured (the file's
``concurrency`` for that host, or ``--concurrency`` for every host), counted on the engine that
carries the reads, against a real registry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cachetui.config import Config, RegistryConfig
from cachetui.ops.inventory import collect, scan_store
from cachetui.ops.load import DocumentMemo
from cachetui.store.registry import RegistrySession
from cachetui.store.registry.aio import RegistryTransport
from cachetui.store.registry.curl import CurlLean
from cachetui.store.registry.lean_api import LeanAnswer
from cachetui.store.registry.settings import DEFAULT_CONCURRENCY, RegistrySettings
from tests.registry_procs import RunningRegistry
from tests.registry_server import fast_settings, unique_repo
from tests.test_registry_inventory import _fill

TAGS = 24  # (3 layouts x 8 copies): more tags than any limit below


class InFlight:
    """Reads under way at once on either lean engine, and the most seen."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0


@pytest.fixture
def in_flight(monkeypatch: pytest.MonkeyPatch) -> InFlight:
    counter = InFlight()
    for engine in (CurlLean, RegistryTransport):
        original = engine.lean

        async def counted(self: Any, *args: Any, _original: Any = original,
                          **kwargs: Any) -> LeanAnswer:
            counter.now += 1
            counter.peak = max(counter.peak, counter.now)
            try:
                answer: LeanAnswer = await _original(self, *args, **kwargs)
                return answer
            finally:
                counter.now -= 1

        monkeypatch.setattr(engine, "lean", counted)
    return counter


@pytest.fixture(scope="module")
def filled(registry: RunningRegistry) -> str:
    """One repository for every test here (filled once, on a loop of its own)."""
    repo = unique_repo("inflight")
    asyncio.run(_fill(registry.host, repo, copies=TAGS // 3))
    return repo


async def _peak(registry: RunningRegistry, repo: str, settings: RegistrySettings,
                counter: InFlight) -> int:
    async with RegistrySession(settings) as session:
        entries, errors, _ = await collect(scan_store(session.store(registry.host, repo),
                                                      memo=DocumentMemo(None)))
    assert errors == [] and len(entries) == TAGS
    assert counter.now == 0
    return counter.peak


async def test_a_listing_keeps_sixteen_reads_in_flight_by_default(
        registry: RunningRegistry, filled: str, in_flight: InFlight) -> None:
    assert DEFAULT_CONCURRENCY == 16
    assert await _peak(registry, filled, fast_settings(), in_flight) == 16


@pytest.mark.parametrize(("config", "flag", "expected"), [
    (Config(), 3, 3),  # --concurrency 3
    ({"concurrency": 4}, None, 4),  # the file's setting for this host
    ({"insecure": True}, None, 16),  # named in the file without a concurrency: the default
])
async def test_configured_concurrency_caps_a_listing(
        registry: RunningRegistry, filled: str, in_flight: InFlight,
        config: Config | dict[str, Any], flag: int | None, expected: int) -> None:
    if isinstance(config, dict):
        config = Config(registries={registry.host: RegistryConfig(**config)})
    settings = RegistrySettings.from_config(config, concurrency=flag)
    assert settings.host(registry.host).concurrency == expected
    assert await _peak(registry, filled, settings, in_flight) == expected
