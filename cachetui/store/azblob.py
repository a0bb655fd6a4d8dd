"""BuildKit's ``type=azblob`` caches: a thin Blob service client on httpx.

Credentials the way Azure users have them: the account key (``secret_access_key`` or
``AZURE_STORAGE_KEY``) signed with Shared Key, a connection string
(``AZURE_STORAGE_CONNECTION_STRING``), a SAS token (``sas_token`` or ``AZURE_STORAGE_SAS_TOKEN``),
or Azure AD through ``azure-identity`` when it is installed (``pip install cachetui[azure]``;
BuildKit's own fallback, ``DefaultAzureCredential``). Shared Key is a documented HMAC over a
canonical string, a few lines; the Azure SDK's blob client would bring a second HTTP stack, so only
the credential chain comes from it. A private CA for the endpoint: ``CACHETUI_CA_FILE`` (added to
the system trust). Secrets never leave the signer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx

from cachetui.errors import AuthError, CachetuiError, FormatError, InvalidInput, NotFound, RegistryError
from cachetui.redact import remember
from cachetui.store.httpobj import (
    AZURE_MAX_BLOCKS,
    PART_SIZE,
    PARTS_IN_MEMORY,
    Body,
    Payload,
    child_text,
    error_code,
    gather_small,
    http_time,
    local,
    next_part,
    part_size_for,
    parts,
    resumable_get,
    status_error,
    with_retries,
    xml_root,
)
from cachetui.store.objects import KeyLayout, ObjectInfo, ObjectStore
from cachetui.store.tls import TlsContexts, Trust, fresh_context

API_VERSION: Final = "2023-11-03"
DEFAULT_CONTAINER: Final = "buildkit-cache"
STORAGE_SCOPE: Final = "https://storage.azure.com/.default"
TOKEN_REFRESH_MARGIN: Final = 300.0
"""Seconds before its expiry that an Azure AD token is replaced (as the Azure SDK does)."""
CA_FILE_ENV: Final = "CACHETUI_CA_FILE"


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
    ca_file: str | None = None
    """A PEM CA bundle trusted for ``account_url`` besides the system's (else ``CACHETUI_CA_FILE``)."""

    @property
    def layout(self) -> KeyLayout:
        return KeyLayout("path", self.prefix, self.blobs_prefix, self.manifests_prefix)

    @property
    def trust(self) -> Trust:
        """The system trust plus ``ca_file`` (else ``CACHETUI_CA_FILE``) when given, else
        httpx's default."""
        return Trust(self.ca_file or os.environ.get(CA_FILE_ENV) or None)

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


class AzureAdToken:
    """Bearer tokens for the Blob service from azure-identity's ``DefaultAzureCredential``.

    Its synchronous ``get_token`` does blocking I/O (a token endpoint, a CLI), so it runs in a
    worker thread; one token serves every request until ``refresh_margin`` seconds before it
    expires. The token is registered with :mod:`cachetui.redact` and never put in a message.
    """

    def __init__(self, where: str, *, refresh_margin: float = TOKEN_REFRESH_MARGIN) -> None:
        self.where = where
        self.refresh_margin = refresh_margin
        self.fetches = 0
        self._credential: Any = None
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"AzureAdToken({self.where!r})"

    async def bearer(self) -> str:
        async with self._lock:
            if self._token is not None and time.time() < self._expires_on - self.refresh_margin:
                return self._token
            token, self._expires_on = await asyncio.to_thread(self._fetch)
            self._token = token
            return token

    def _fetch(self) -> tuple[str, float]:
        if self._credential is None:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError:
                raise AuthError("no Azure credentials: give secret_access_key (or "
                                "AZURE_STORAGE_KEY), a SAS token or a connection string, or "
                                "install azure-identity (pip install cachetui[azure]) for Azure AD",
                                where=self.where) from None
            # Its chain report (a dozen lines) is also logged as a warning: with no logging set
            # up, Python's last-resort handler printed it above the one-line error. A handler
            # that drops it keeps stderr to that line; logging the user sets up still gets it.
            quiet = logging.getLogger("azure.identity")
            if not any(isinstance(h, logging.NullHandler) for h in quiet.handlers):
                quiet.addHandler(logging.NullHandler())
            self._credential = DefaultAzureCredential()
        try:
            token = self._credential.get_token(STORAGE_SCOPE)
        except Exception as exc:  # azure-identity's errors hold multi-line chain reports
            raise AuthError(f"Azure AD sign-in failed ({type(exc).__name__}): no credential of "
                            "DefaultAzureCredential's chain gave a token for Azure Storage",
                            where=self.where) from None
        self.fetches += 1
        remember(str(token.token))
        return str(token.token), float(token.expires_on)

    def close(self) -> None:
        if self._credential is not None:
            self._credential.close()


def _auth_detail(data: bytes) -> str:
    """The service's ``AuthenticationErrorDetail`` (\"The token is expired.\"), printable, short."""
    try:
        detail = child_text(xml_root(data, ""), "AuthenticationErrorDetail") or ""
    except CachetuiError:
        return ""
    return "".join(c for c in detail if c.isprintable())[:160].strip()


class AzblobBackend:
    """One container over the Blob service REST API."""

    def __init__(self, settings: AzblobSettings, *,
                 transport: httpx.AsyncBaseTransport | None = None, timeout: float = 30.0,
                 tls: TlsContexts = fresh_context) -> None:
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
        self._azure_ad = (AzureAdToken(self.description)
                          if self._shared_key is None and self._sas is None else None)
        self._container_checked = False
        self._slots = asyncio.Semaphore(PARTS_IN_MEMORY)
        self._client = httpx.AsyncClient(
            transport=transport, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=tls(settings.trust),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            follow_redirects=False, headers={"Accept-Encoding": "identity"})  # stored bytes

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
        elif self._azure_ad is not None:
            headers["Authorization"] = f"Bearer {await self._azure_ad.bearer()}"

    async def _request(self, method: str, name: str, *, query: str = "",
                       headers: dict[str, str] | None = None, body: Payload = b"",
                       what: str = "blob", stream: bool = False,
                       ok_missing_container: bool = False) -> httpx.Response:
        where = f"{self.description}/{name}" if name else self.description

        content = Body(body) if body else None
        length = content.length if content is not None else 0

        async def once() -> httpx.Response:
            url = self._url(name, query)
            sent = dict(headers or {})
            if method in ("PUT", "POST") or body:
                sent["Content-Length"] = str(length)
            await self._authorize(method, url, sent)
            request = self._client.build_request(method, url, headers=sent, content=content)
            return await self._client.send(request, stream=True)

        try:
            response = await with_retries(once, where, endpoint=self.settings.account_url)
        finally:
            if content is not None:
                content.release()  # the block is let go now, not when a GC finds the request
        if response.status_code >= 300:
            data = await response.aread()
            await response.aclose()
            code = error_code(data) or response.headers.get("x-ms-error-code")
            if code == "ContainerNotFound" and not ok_missing_container:
                raise NotFound(f"container {self.settings.container!r} does not exist",
                               where=self.description)
            if self._azure_ad is not None and response.status_code in (401, 403):
                detail = _auth_detail(data)
                raise AuthError(f"the Azure AD token was refused ({code or response.status_code})"
                                + (f": {detail}" if detail else "")
                                + "; check the identity's role (Storage Blob Data Contributor)",
                                where=where, status=response.status_code, code=code)
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
        async def open_range(extra: dict[str, str]) -> httpx.Response:
            return await self._request("GET", key, stream=True, headers=extra)

        async for chunk in resumable_get(open_range, f"{self.description}/{key}"):
            yield chunk

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

        async def upload(block_id: str, part: list[bytes]) -> None:
            try:
                await self._request("PUT", key, body=part,
                                    query=f"blockid={quote(block_id, safe='')}&comp=block")
            finally:
                self._slots.release()

        async with asyncio.TaskGroup() as group:
            pieces = parts(chunks, part_size_for(size, AZURE_MAX_BLOCKS))
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
        if self._azure_ad is not None:
            self._azure_ad.close()


class AzblobStore(ObjectStore):
    """A ``type=azblob`` cache location: every manifest under the prefix is a tag."""

    def __init__(self, settings: AzblobSettings, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 tls: TlsContexts = fresh_context) -> None:
        self.settings = settings
        super().__init__(AzblobBackend(settings, transport=transport, tls=tls), settings.layout,
                         kind="azblob", names=settings.names)
