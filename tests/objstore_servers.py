"""pytest fixtures: one moto and one Azurite per session, a fresh bucket/container per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from cachetui.store.azblob import AzblobSettings, AzblobStore
from cachetui.store.s3 import S3Settings, S3Store
from tests.backend_fixtures import objects
from tests.objstore_procs import Azurite, Moto, load_s3, start_azurite, start_moto


def unique_name(prefix: str = "bk") -> str:
    """A bucket/container name: lowercase, 3-63 characters, unique per test."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    server = start_azurite()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite_oauth() -> Iterator[Azurite]:
    """Azurite over HTTPS (its own certificate) taking Azure AD tokens (``--oauth basic``)."""
    server = start_azurite(oauth=True)
    yield server
    server.stop()


def s3_settings(moto: Moto, bucket: str, **extra: object) -> S3Settings:
    return S3Settings(bucket=bucket, region="us-east-1", endpoint_url=moto.endpoint,
                      use_path_style=True, access_key_id=moto.access_key,
                      secret_access_key=moto.secret_key, **extra)  # type: ignore[arg-type]


def az_settings(azurite: Azurite, container: str, **extra: object) -> AzblobSettings:
    return AzblobSettings(account_url=azurite.account_url, account_name=azurite.account,
                          secret_access_key=azurite.key, container=container,
                          ca_file=azurite.ca_file, **extra)  # type: ignore[arg-type]


def s3_store(moto: Moto, bucket: str | None = None, **extra: object) -> S3Store:
    """A store on a new empty bucket (or on ``bucket``)."""
    if bucket is None:
        bucket = unique_name()
        moto.client().create_bucket(Bucket=bucket)
    return S3Store(s3_settings(moto, bucket, **extra))


def s3_loaded(moto: Moto, variant: str, **extra: object) -> S3Store:
    """A store on a new bucket holding the real ``s3/<variant>`` dump."""
    bucket = unique_name()
    load_s3(moto, bucket, variant)
    return S3Store(s3_settings(moto, bucket, **extra))


async def az_loaded(azurite: Azurite, variant: str, **extra: object) -> AzblobStore:
    """A store on a new container holding the real ``azblob/<variant>`` dump."""
    store = AzblobStore(az_settings(azurite, unique_name(), **extra))
    for item in objects("azblob", variant):
        data = item.path.read_bytes()

        async def body(data: bytes = data) -> AsyncIterator[bytes]:
            yield data

        await store.backend.put(item.key, body(), len(data), lambda: None)
    return store
