"""Shared pytest configuration. Fixture-specific helpers live in tests/fixtures.py."""

from __future__ import annotations

import pytest

from tests.fixtures import fixtures_root

pytest_plugins = ["tests.registry_server", "tests.gha_emulator.fixture", "tests.objstore_servers"]


_FIXTURE_STATE: dict[str, tuple[int, int]] = {}


def _fixture_state() -> dict[str, tuple[int, int]]:
    root = fixtures_root()
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if not path.is_dir()
    }


def pytest_sessionstart(session: pytest.Session) -> None:
    # Fail the whole run at once, not test by test, when the real fixtures are not there.
    fixtures_root()
    _FIXTURE_STATE.update(_fixture_state())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Tests run as root in CI, where read-only modes do not stop writes: prove that no test
    # created, changed or deleted anything in the shared fixtures (they are read in place).
    if not _FIXTURE_STATE:
        return
    now = _fixture_state()
    changed = sorted(set(now) ^ set(_FIXTURE_STATE) | {k for k in now if now.get(k) !=
                                                       _FIXTURE_STATE.get(k)})
    if changed:
        print(f"\nERROR: tests modified the shared fixtures: {changed[:10]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _private_disk_cache(tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test gets an empty on-disk manifest/config cache (never the user's ~/.cache), so a
    # test sees a cold start unless it lists the same location twice on purpose.
    monkeypatch.setenv("CACHETUI_CACHE_DIR", str(tmp_path_factory.mktemp("diskcache")))
    monkeypatch.delenv("CACHETUI_NO_CACHE", raising=False)
    # An in-process CLI run with --no-cache turns the disk cache off for the whole process
    # (diskcache.disable): each test starts with it on, and the change ends with the test.
    monkeypatch.setattr("cachetui.store.diskcache._DISABLED", False)
