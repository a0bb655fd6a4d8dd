"""pytest plugin: real ``docker-registry`` servers for the whole session, and helpers to fill them.

Registered in ``tests/conftest.py`` (``pytest_plugins``). Fixture names are stable; other tests rely
on them. Every registry is session-scoped and shared, so tests use unique repository names
(:func:`unique_repo`).

Fixtures (``RunningRegistry`` objects; ``.host`` is ``127.0.0.1:PORT``):
- ``registry``           open, delete enabled
- ``registry_nodelete``  open, delete disabled (distribution's default: DELETE → 405 UNSUPPORTED)
- ``registry_basic``     htpasswd Basic auth; users in ``.users`` (``alice``/``alice-secret``)
- ``registry_token``     token auth; ``.issuer`` is the in-process :class:`TokenIssuer` with
                         ``alice`` (every action) and ``bob`` (pull, push; no delete); anonymous
                         callers may pull
- ``registry_tls``       HTTPS with a self-signed certificate; ``.ca_file`` trusts it
and ``*_url`` variants returning just the ``host:port`` string: ``registry_url``,
``registry_nodelete_url``, ``registry_basic_url``, ``registry_token_url``.

Helpers: :func:`push_layout` (one tag of a local layout into any store, blobs first, manifest bytes
unchanged), :func:`fast_settings` (tiny retry delays), :func:`unique_repo`.

A missing binary or a registry that cannot start fails the tests that need it (never a skip).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cachetui.oci import mediatypes as mt
from cachetui.oci.models import TopObject
from cachetui.store.base import Store
from cachetui.store.layout import LayoutStore
from cachetui.store.registry.credentials import Credentials
from cachetui.store.registry.retry import RetryPolicy
from cachetui.store.registry.settings import RegistrySettings
from tests.registry_procs import RegistryStartError, RunningRegistry, TokenIssuer, start_registry

BASIC_USERS = {"alice": "alice-secret", "bob": "bob-secret"}
IDENTITY_TOKEN = "alice-identity-token"
"""What ``docker login`` leaves in config.json as ``identitytoken`` for alice."""
TOKEN_USERS = {
    "alice": ("alice-secret", frozenset({"*"})),
    "bob": ("bob-secret", frozenset({"pull", "push"})),
}
_counter = itertools.count()


def unique_repo(prefix: str = "t") -> str:
    """A repository name no other test in this session uses."""
    return f"{prefix}/r{os.getpid()}-{next(_counter)}"


def fast_settings(**overrides: object) -> RegistrySettings:
    """Settings with retry delays of milliseconds, so fault tests stay fast."""
    values: dict[str, object] = {
        "retry": RetryPolicy(attempts=4, base_delay=0.005, max_delay=0.02, max_retry_after=0.2),
        "stall_timeout": 5.0,
        "connect_timeout": 2.0,
    }
    values.update(overrides)
    return RegistrySettings(**values)  # type: ignore[arg-type]


def credentials(user: str, password: str) -> Credentials:
    return Credentials(username=user, password=password, source="test")


async def push_layout(store: Store, layout_dir: Path, tag: str,
                      source_tag: str | None = None) -> TopObject:
    """Push one tag of a local layout into ``store``: every blob first, then the exact manifest."""
    layout = LayoutStore(layout_dir)
    top = await layout.get_manifest(source_tag or tag)
    await _push_children(store, layout, top)
    await store.put_manifest(top, tag)
    return top


async def _push_children(store: Store, layout: LayoutStore, top: TopObject) -> None:
    for child in top.children():
        if child.media_type in mt.TOP_LEVEL_TYPES:
            nested = await layout.get_manifest(child.digest)
            await _push_children(store, layout, nested)
            await store.put_manifest(nested, None)
        else:
            await store.put_blob(child, layout.open_blob(child))


def _start(tmp_path_factory: pytest.TempPathFactory, name: str, **kwargs: object
           ) -> Iterator[RunningRegistry]:
    try:
        running = start_registry(tmp_path_factory.mktemp(name), **kwargs)  # type: ignore[arg-type]
    except RegistryStartError as exc:
        pytest.fail(f"cannot start the test registry ({name}): {exc}", pytrace=False)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    yield from _start(tmp_path_factory, "registry", delete=True)


@pytest.fixture(scope="session")
def registry_nodelete(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    yield from _start(tmp_path_factory, "registry-nodelete", delete=False)


@pytest.fixture(scope="session")
def registry_basic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    yield from _start(tmp_path_factory, "registry-basic", delete=True, htpasswd=BASIC_USERS)


@pytest.fixture(scope="session")
def registry_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    yield from _start(tmp_path_factory, "registry-token", delete=True,
                      issuer=TokenIssuer(users=dict(TOKEN_USERS),
                                         refresh_tokens={IDENTITY_TOKEN: "alice"}))


@pytest.fixture(scope="session")
def registry_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    yield from _start(tmp_path_factory, "registry-tls", delete=True, tls=True)


@pytest.fixture(scope="session")
def registry_url(registry: RunningRegistry) -> str:
    return registry.host


@pytest.fixture(scope="session")
def registry_nodelete_url(registry_nodelete: RunningRegistry) -> str:
    return registry_nodelete.host


@pytest.fixture(scope="session")
def registry_basic_url(registry_basic: RunningRegistry) -> str:
    return registry_basic.host


@pytest.fixture(scope="session")
def registry_token_url(registry_token: RunningRegistry) -> str:
    return registry_token.host
