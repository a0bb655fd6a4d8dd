"""pytest plugin: a fresh :class:`GitHubEmulator` per test, and loading the real gha dumps into it.

Fixtures:
- ``gha_emulator``: started on a free 127.0.0.1 port, empty, with the REST token
  :data:`REST_TOKEN` (scope ``repo``) and :data:`READONLY_TOKEN` (``actions:read``).
Helpers: :func:`load_dump` (one ``fixtures/buildkit-backends/gha/<variant>`` folder),
:func:`runtime_token`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import fixtures_root
from tests.gha_emulator.azurite_blobs import AzuriteBlobs
from tests.gha_emulator.emulator import GitHubEmulator
from tests.gha_emulator.state import parse_iso
from tests.gha_emulator.tokens import READ, WRITE, make_runtime_token
from tests.objstore_procs import Azurite

REPOSITORY = "octo-org/cachetest"
REST_TOKEN = "ghp_emulatorTokenWithRepoScope000000000"
READONLY_TOKEN = "ghp_emulatorTokenReadOnly0000000000000"
MAIN = "refs/heads/main"


def gha_dir(variant: str) -> Path:
    path = fixtures_root() / "buildkit-backends" / "gha" / variant
    if not path.is_dir():
        raise RuntimeError(f"gha fixture {variant} is missing at {path}")
    return path


def dump_entries(variant: str) -> list[dict[str, object]]:
    with open(gha_dir(variant) / "entries.json", encoding="utf-8") as handle:
        entries: list[dict[str, object]] = json.load(handle)["entries"]
    return entries


def load_dump(emulator: GitHubEmulator, variant: str) -> None:
    """One complete entry per ``entries.json`` item, keeping id, ref and both times."""
    folder = gha_dir(variant)
    with open(folder / "entries.json", encoding="utf-8") as handle:
        dump = json.load(handle)
    emulator.repository(dump["repository"])
    for item in dump["entries"]:
        data = (folder / item["file"]).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == item["sha256"], item["file"]
        emulator.add_entry(dump["repository"], item["key"], item["version"], item["ref"], data,
                           entry_id=item["id"], created_at=parse_iso(item["created_at"]),
                           last_accessed_at=parse_iso(item["last_accessed_at"]), api=item["api"])


def runtime_token(*scopes: tuple[str, int]) -> str:
    return make_runtime_token(list(scopes) or [(MAIN, READ | WRITE)])


@pytest.fixture
def gha_emulator_azurite(azurite: Azurite) -> Iterator[GitHubEmulator]:
    """Like ``gha_emulator``, with v2 blob bytes in the session's Azurite behind real SAS URLs."""
    blobs = AzuriteBlobs(azurite.endpoint, azurite.account, azurite.key,
                         f"actions-cache-{next(_containers)}")
    yield from _run(GitHubEmulator(blobs))
    blobs.close()


_containers = itertools.count(1)


@pytest.fixture
def gha_emulator() -> Iterator[GitHubEmulator]:
    yield from _run(GitHubEmulator())


def _run(emulator: GitHubEmulator) -> Iterator[GitHubEmulator]:
    emulator.start()
    emulator.add_rest_token(REST_TOKEN, ("repo",))
    emulator.add_rest_token(READONLY_TOKEN, ("actions:read",))
    emulator.repository(REPOSITORY)
    try:
        yield emulator
    finally:
        emulator.stop()
