"""Stores over the GitHub emulator, for the gha tests."""

from __future__ import annotations

from cachetui.store.gha.credentials import Secret
from cachetui.store.gha.rest import GitHubRest
from cachetui.store.gha.runtime import RuntimeCache
from cachetui.store.gha.store import GhaStore
from tests.gha_emulator.emulator import GitHubEmulator
from tests.gha_emulator.fixture import MAIN, REPOSITORY, REST_TOKEN, runtime_token
from tests.gha_emulator.tokens import READ, WRITE

PR7 = "refs/pull/7/merge"


def gha_store(emulator: GitHubEmulator, *, runtime: bool = True, version: int = 2,
              scopes: tuple[tuple[str, int], ...] = ((MAIN, READ | WRITE),),
              token: str = REST_TOKEN, scope: str | None = None) -> GhaStore:
    rest = GitHubRest(emulator.url, REPOSITORY, Secret(token, "test"), max_wait=0.5)
    cache = RuntimeCache(emulator.url, Secret(runtime_token(*scopes), "test"), version) \
        if runtime else None
    return GhaStore(rest, cache, scope=scope)
