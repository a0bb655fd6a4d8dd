"""BuildKit's ``type=azblob`` caches: a thin Blob service client on httpx.

Credentials the way Azure users have them: the account key (``secret_access_key`` or
``AZURE_STORAGE_KEY``) signed with Shared Key, a connection string
(``AZURE_STORAGE_CONNECTION_STRING``), a SAS token (``sas_token`` or ``AZURE_STORAGE_SAS_TOKEN``),
or Azure AD through ``azure-identity`` when it is installed (BuildKit's own fallback,
``DefaultAzureCredential``). Shared Key is a documented HMAC over a canonical string, a few
lines; the Azure SDK would bring azure-core and a second HTTP stack. Secrets never leave the signer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx

from cachetui.errors import AuthError, FormatError, InvalidInput, NotFound, RegistryError
from cachetui.store.httpobj import (
    PART_SIZE,
    PARTS_IN_MEMORY,
    child_text,
    error_code,
    gather_small,
    http_time,
    local,
    next_part,
    parts,
    status_error,
    with_retries,
    xml_root,
)
from cachetui.store.objects import KeyLayout, ObjectInfo, ObjectStore

API_VERSION: Final = "2023-11-03"
DEFAULT_CONTAINER: Final = "buildkit-cache"
STORAGE_SCOPE: Final = "https://storage.azure.com/.default"


@dataclass(frozen=True, slots=True)
class AzblobSettings:
    """A ``type=azblob`` spec's attributes (BuildKit's names); secrets excluded from ``repr``."""

    account_url: str
    container: str = DEFAULT_CONTAINER
    account_name: str | None = None
    prefix: str = ""
    blobs_prefix: str = "blobs"
    manifests_prefix: str = "manifests"
    names: tuple[str, ...] = ()
    secret_access_key: str | None = field(default=None, repr=False)
    sas_token: str | None = field(default=None, repr=False)

    @property
    def layout(self) -> KeyLayout:
        return KeyLayout("path", self.prefix, self.blobs_prefix, self.manifests_prefix)

    @property
    def account(self) -> str:
        """``account_name``, else the first DNS label of the URL's host (as BuildKit)."""
        if self.account_name:
            return self.account_name
        return (urlsplit(self.account_url).hostname or "").split(".")[0]


def parse_connection_string(text: str) -> dict[str, str]:
    """``Key=Value;…`` pairs of an Azure Storage connection string."""
    out: dict[str, str] = {}
    for part in text.split(";"):
        if "=" in part:
            key, _, value = part.partition("=")
            out[key.strip()] = value.strip()
    return out


def settings_from_connection_string(text: str, **extra: Any) -> AzblobSettings:
    values = parse_connection_string(text)
    name = values.get("AccountName")
    endpoint = values.get("BlobEndpoint")
    if endpoint is None:
        if not name:
            raise InvalidInput("connection string has neither BlobEndpoint nor AccountName")
        protocol = values.get("DefaultEndpointsProtocol", "https")
        suffix = values.get("EndpointSuffix", "core.windows.net")
        endpoint = f"{protocol}://{name}.blob.{suffix}"
    return AzblobSettings(account_url=endpoint.rstrip("/"), account_name=name,
                          secret_access_key=values.get("AccountKey"),
                          sas_token=values.get("SharedAccessSignature"), **extra)


def split_sas(url: str) -> tuple[str, str | None]:
    """``account_url`` without its query, and the query as a SAS token (``?sv=…&sig=…``, the
    "Blob SAS URL" the portal hands out) so the SAS is signed in, never shown."""
    base, sep, query = url.partition("?")
    return (base, query or None) if sep else (url, None)


class SharedKey:
    """Shared Key authorization for the Blob service (version 2009-09-19 and later)."""

    def __init__(self, account: str, key: str) -> None:
        self.account = account
        try:
            self._key = base64.b64decode(key, validate=True)
        except ValueError:
            raise InvalidInput("the Azure storage account key is not valid base64") from None

    def __repr__(self) -> str:
        return f"SharedKey({self.account!r})"

    def sign(self, method: str, url: str, headers: dict[str, str]) -> str:
        lower = {k.lower(): v for k, v in headers.items()}
        length = lower.get("content-length", "")
        standard = [method, lower.get("content-encoding", ""), lower.get("content-language", ""),
                    "" if length == "0" else length, lower.get("content-md5", ""),
                    lower.get("content-type", ""), "", lower.get("if-modified-since", ""),
                    lower.get("if-match", ""), lower.get("if-none-match", ""),
                    lower.get("if-unmodified-since", ""), lower.get("range", "")]
        ms_headers = "".join(f"{k}:{lower[k].strip()}\n" for k in sorted(lower)
                             if k.startswith("x-ms-"))
        split = urlsplit(url)
        resource = f"/{self.account}{split.path or '/'}"
        params: dict[str, list[str]] = {}
        for name, value in parse_qsl(split.query, keep_blank_values=True):
            params.setdefault(name.lower(), []).append(unquote(value))
        for name in sorted(params):
            resource += f"\n{name}:{','.join(sorted(params[name]))}"
        to_sign = "\n".join(standard) + "\n" + ms_headers + resource
        digest = hmac.new(self._key, to_sign.encode("utf-8"), hashlib.sha256).digest()
        return f"SharedKey {self.account}:{base64.b64encode(digest).decode()}"


class AzblobBackend:
    """One container over the Blob service REST API."""

    def __init__(self, settings: AzblobSettings, *,
                 transport: httpx.AsyncBaseTransport | None = None, timeout: float = 30.0) -> None:
        account_url, url_sas = split_sas(settings.account_url)
        if url_sas:
            settings = replace(settings, account_url=account_url,
                               sas_token=settings.sas_token or url_sas)
        split = urlsplit(settings.account_url)
        if split.scheme not in ("http", "https") or not split.netloc:
            raise InvalidInput(f"account_url {settings.account_url!r} is not an http(s) URL")
        if not settings.account:
            raise InvalidInput("cannot tell the storage account name: give account_name=")
        if not settings.container:
            raise InvalidInput("an azblob location needs a container")
        self.settings = settings
        key = settings.secret_access_key or os.environ.get("AZURE_STORAGE_KEY")
        sas = settings.sas_token or os.environ.get("AZURE_STORAGE_SAS_TOKEN")
        self._shared_key = SharedKey(settings.account, key) if key else None
        self._sas = sas.lstrip("?") if sas and not key else None
        self._token_credential: Any = None
        self._container_checked = False
        self._slots = asyncio.Semaphore(PARTS_IN_MEMORY)
        self._client = httpx.AsyncClient(
            transport=transport, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            follow_redirects=False)

    @property
    def description(self) -> str:
        return f"azblob://{self.settings.account}/{self.settings.container}"

    def _url(self, name: str, query: str = "") -> str:
        base = self.settings.account_url.rstrip("/")
        path = f"/{quote(self.settings.container, safe='')}"
        if name:
            path += "/" + quote(name, safe="/-_.~:")
        query_parts = [q for q in (query, self._sas) if q]
        return f"{base}{path}" + (f"?{'&'.join(query_parts)}" if query_parts else "")

    async def _authorize(self, method: str, url: str, headers: dict[str, str]) -> None:
        headers["x-ms-date"] = formatdate(usegmt=True)
        headers["x-ms-version"] = API_VERSION
        if self._shared_key is not None:
            headers["Authorization"] = self._shared_key.sign(method, url, headers)
        elif self._sas is None:
            token = await self._bearer()
            headers["Authorization"] = f"Bearer {token}"

    async def _bearer(self) -> str:
        if self._token_credential is None:
            try:
                from azure.identity.aio import DefaultAzureCredential
            except ImportError:
                raise AuthError("no Azure credentials: give secret_access_key (or "
                                "AZURE_STORAGE_KEY), a SAS token or a connection string, or "
                                "install azure-identity for Azure AD", where=self.description
                                ) from None
            self._token_credential = DefaultAzureCredential()
        try:
            token = await self._token_credential.get_token(STORAGE_SCOPE)
        except Exception as exc:
            raise AuthError(f"Azure AD sign-in failed: {type(exc).__name__}",
                            where=self.description) from None
        return str(token.token)

    async def _request(self, method: str, name: str, *, query: str = "",
                       headers: dict[str, str] | None = None, body: bytes = b"",
                       what: str = "blob", stream: bool = False,
                       ok_missing_container: bool = False) -> httpx.Response:
        where = f"{self.description}/{name}" if name else self.description

        async def once() -> httpx.Response:
            url = self._url(name, query)
            sent = dict(headers or {})
            if method in ("PUT", "POST") or body:
                sent["Content-Length"] = str(len(body))
            await self._authorize(method, url, sent)
            request = self._client.build_request(method, url, headers=sent, content=body or None)
            return await self._client.send(request, stream=True)

        response = await with_retries(once, where, endpoint=self.settings.account_url)
        if response.status_code >= 300:
            data = await response.aread()
            await response.aclose()
            code = error_code(data) or response.headers.get("x-ms-error-code")
            if code == "ContainerNotFound" and not ok_missing_container:
                raise NotFound(f"container {self.settings.container!r} does not exist",
                               where=self.description)
            raise status_error(response.status_code, code, where, what=what)
        if not stream:
            await response.aread()
            await response.aclose()
        return response

    async def ensure_container(self) -> None:
        """Create the container when missing, as BuildKit's exporter does."""
        if self._container_checked:
            return
        try:
            await self._request("PUT", "", query="restype=container", what="container",
                                ok_missing_container=True)
        except RegistryError as exc:
            if exc.status != 409:  # ContainerAlreadyExists
                raise
        self._container_checked = True

    # -- ObjectBackend ------------------------------------------------------------------------
    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        marker: str | None = None
        while True:
            query = f"comp=list&prefix={quote(prefix, safe='')}&restype=container"
            if marker:
                query += f"&marker={quote(marker, safe='')}"
            response = await self._request("GET", "", query=query, what="container")
            root = xml_root(response.content, self.description)
            for section in root:
                if local(section.tag) != "Blobs":
                    continue
                for blob in section:
                    if local(blob.tag) != "Blob":
                        continue
                    name = child_text(blob, "Name")
                    props = next((c for c in blob if local(c.tag) == "Properties"), None)
                    if name is None or props is None:
                        raise FormatError("malformed List Blobs entry", where=self.description)
                    size = child_text(props, "Content-Length") or "0"
                    yield ObjectInfo(name, int(size) if size.isdigit() else 0,
                                     http_time(child_text(props, "Last-Modified")))
            marker = child_text(root, "NextMarker")
            if not marker:
                return

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            response = await self._request("HEAD", key)
        except NotFound:
            return None  # a missing container holds nothing; writing creates it
        size = response.headers.get("content-length", "0")
        return ObjectInfo(key, int(size) if size.isdigit() else 0,
                          http_time(response.headers.get("last-modified")))

    async def get(self, key: str) -> AsyncIterator[bytes]:
        response = await self._request("GET", key, stream=True)
        try:
            async for chunk in response.aiter_bytes(1024 * 1024):
                yield chunk
        finally:
            await response.aclose()

    async def put(self, key: str, chunks: AsyncIterable[bytes], size: int,
                  check: Callable[[], None]) -> None:
        await self.ensure_container()
        if size <= PART_SIZE:
            data = await gather_small(chunks, self._slots)
            try:
                check()
                await self._request("PUT", key, body=data, headers={
                    "x-ms-blob-type": "BlockBlob", "Content-Type": "application/octet-stream"})
            finally:
                self._slots.release()
            return
        ids: list[str] = []

        async def upload(block_id: str, part: bytes) -> None:
            try:
                await self._request("PUT", key, body=part,
                                    query=f"blockid={quote(block_id, safe='')}&comp=block")
            finally:
                self._slots.release()

        async with asyncio.TaskGroup() as group:
            pieces = parts(chunks, PART_SIZE)
            while (part := await next_part(pieces, self._slots)) is not None:
                block_id = base64.b64encode(f"{len(ids):08d}".encode()).decode()
                ids.append(block_id)
                group.create_task(upload(block_id, part))
                del part  # the task owns it now; do not hold it while the next one fills
        check()  # uncommitted blocks are invisible and expire: nothing to undo on failure
        body = ('<?xml version="1.0" encoding="utf-8"?><BlockList>'
                + "".join(f"<Latest>{i}</Latest>" for i in ids) + "</BlockList>").encode()
        await self._request("PUT", key, query="comp=blocklist", body=body,
                            headers={"x-ms-blob-content-type": "application/octet-stream"})

    async def delete(self, key: str) -> None:
        try:
            await self._request("DELETE", key)
        except NotFound as exc:
            if "container" in exc.message:
                raise

    async def touch(self, key: str) -> None:
        """Set Blob Metadata: the bytes stay, Last-Modified moves to now."""
        await self._request("PUT", key, query="comp=metadata",
                            headers={"x-ms-meta-touchedby": "cachetui"})

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._token_credential is not None:
            await self._token_credential.close()


class AzblobStore(ObjectStore):
    """A ``type=azblob`` cache location: every manifest under the prefix is a tag."""

    def __init__(self, settings: AzblobSettings, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        super().__init__(AzblobBackend(settings, transport=transport), settings.layout,
                         kind="azblob", names=settings.names)
