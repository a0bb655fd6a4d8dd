"""One factory per store the contract suite runs on. A new backend joins by adding a factory here
(and its name to :data:`FACTORIES`): an async context that yields a function opening a fresh,
empty store by name (the same name is the same store), read-only on request.

Stores are opened through the :class:`~cachetui.locations.Workspace`, as every front end opens
them, so the suite also covers the location and opener of each kind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from cachetui.config import Config, SourceConfig
from cachetui.locations import Workspace, parse_destination, parse_location
from cachetui.store.base import Store
from cachetui.store.registry import RegistrySession
from tests.registry_procs import RunningRegistry
from tests.registry_server import credentials, fast_settings, unique_repo

OpenStore = Callable[..., Store]
"""``open_store(name, *, read_only=False) -> Store``"""

Factory = Callable[[pytest.FixtureRequest, Path], AbstractAsyncContextManager[OpenStore]]


def _workspace(read_only_sources: list[str], session: RegistrySession | None = None) -> Workspace:
    config = Config(sources=[SourceConfig(text, read_only=True) for text in read_only_sources])
    return Workspace(config, registry_session=session)


def _open(workspace: Workspace, text: str, read_only: bool) -> Store:
    """Read-only: opened as a source; otherwise as a destination (created on first write)."""
    if read_only:
        return workspace.open(parse_location(text))
    return workspace.open_destination(parse_destination(text))


@asynccontextmanager
async def directory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    def open_store(name: str, *, read_only: bool = False) -> Store:
        path = tmp_path / name.replace("/", "_")
        path.mkdir(exist_ok=True)
        return _open(_workspace([str(path)] if read_only else []), str(path), read_only)

    yield open_store


def _registry(fixture: str, user: str | None) -> Factory:
    @asynccontextmanager
    async def factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
        registry: RunningRegistry = request.getfixturevalue(fixture)
        explicit = credentials(user, BASIC_PASSWORD) if user else None
        session = RegistrySession(fast_settings(credentials=explicit),
                                  credential_lookup=lambda _: None)
        prefix = unique_repo("contract")
        try:
            def open_store(name: str, *, read_only: bool = False) -> Store:
                text = f"{registry.host}/{prefix}-{name}"
                return _open(_workspace([text] if read_only else [], session), text, read_only)

            yield open_store
        finally:
            await session.aclose()

    return factory


BASIC_PASSWORD = "alice-secret"


@asynccontextmanager
async def s3(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """moto with IAM signature checking: one bucket per test, one prefix per store name."""
    from tests.objstore_procs import Moto
    from tests.objstore_servers import unique_name

    moto: Moto = request.getfixturevalue("moto")
    bucket = unique_name("contract")
    moto.client().create_bucket(Bucket=bucket)

    def open_store(name: str, *, read_only: bool = False) -> Store:
        text = (f"type=s3,endpoint_url={moto.endpoint},bucket={bucket},region=us-east-1,"
                f"use_path_style=true,prefix={name}/,access_key_id={moto.access_key},"
                f"secret_access_key={moto.secret_key}")
        return _open(_workspace([text] if read_only else []), text, read_only)

    yield open_store


@asynccontextmanager
async def azblob(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Azurite 3.35.0: one container per test, one prefix per store name."""
    from tests.objstore_procs import Azurite
    from tests.objstore_servers import unique_name

    azurite: Azurite = request.getfixturevalue("azurite")
    container = unique_name("contract")

    def open_store(name: str, *, read_only: bool = False) -> Store:
        text = (f"type=azblob,account_url={azurite.account_url},account_name={azurite.account},"
                f"container={container},prefix={name},secret_access_key={azurite.key}")
        return _open(_workspace([text] if read_only else []), text, read_only)

    yield open_store

FACTORIES: dict[str, Factory] = {
    "directory": directory,
    "registry": _registry("registry", None),
    "registry-htpasswd": _registry("registry_basic", "alice"),
    "registry-token": _registry("registry_token", "alice"),
    "s3": s3,
    "azblob": azblob,
}
"""s3, azblob and gha join here with a factory each."""
