"""The store contract fixture: every test in this folder runs once per store factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.contract.factories import FACTORIES, OpenStore


@pytest.fixture(params=sorted(FACTORIES))
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    async with FACTORIES[request.param](request, tmp_path) as opener:
        yield opener
