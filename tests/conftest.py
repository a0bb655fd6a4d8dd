"""Shared pytest configuration. Fixture-specific helpers live in tests/fixtures.py."""

from __future__ import annotations

import pytest

from tests.fixtures import fixtures_root


def pytest_sessionstart(session: pytest.Session) -> None:
    # Fail the whole run at once, not test by test, when the real fixtures are not there.
    fixtures_root()
