"""BuildKit's ``type=s3`` caches: a thin S3 client on httpx, signed by botocore.

botocore supplies what users already have configured: the whole credential chain (``AWS_*``
variables, ``~/.aws/credentials`` and ``config`` profiles, SSO, web identity, container and
instance metadata, ``credential_process``) and SigV4 signing. Requests go through the project's
httpx stack, so there is no second HTTP stack (boto3/urllib3) and uploads stream in parts with
flat memory. Secrets live only in the signer: no message, repr or log line contains them.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlsplit

import httpx

from cachetui.errors import AuthError, FormatError, InvalidInput, NotFound, RegistryError
from cachetui.store.httpobj import (
    PART_SIZE,
    PARTS_IN_MEMORY,
    S3_MAX_PARTS,
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
    sha256_hex,
    status_error,
    with_retries,
    xml_root,
)
from cachetui.store.objects import KeyLayout, ObjectInfo, ObjectStore
from cachetui.store.tls import DEFAULT_TRUST, TlsContexts, Trust, fresh_context

DEFAULT_REGION: Final = "us-east-1"
_EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True, slots=True)
class S3Settings:
    """A ``type=s3`` spec's attributes (buildx's names); secrets are excluded from ``repr``."""

    bucket: str
    region: str | None = None
    prefix: str = ""
    blobs_prefix: str = "blobs/"
    manifests_prefix: str = "manifests/"
    names: tuple[str, ...] = ()
    endpoint_url: str | None = None
    use_path_style: bool = False
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    profile: str | None = None

    @property
    def layout(self) -> KeyLayout:
        return KeyLayout("concat", self.prefix, self.blobs_prefix, self.manifests_prefix)

    @property
    def trust(self) -> Trust:
        """httpx's default (no CA setting of its own, as before)."""
        return DEFAULT_TRUST


@dataclass(frozen=True, slots=True)
class _Frozen:
    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


def _resolve_credentials(settings: S3Settings) -> tuple[Any, str]:
    """botocore credentials (refreshable where the source is) and the region."""
    from botocore.credentials import Credentials

    if settings.access_key_id and settings.secret_access_key and settings.region:
        # Everything is in the spec: no botocore session (its import and config reads are a
        # fair part of a short command's start-up).
        return Credentials(settings.access_key_id, settings.secret_access_key,
                           settings.session_token), settings.region
    from botocore.exceptions import BotoCoreError, ProfileNotFound
    from botocore.session import Session

    try:
        session = Session(profile=settings.profile) if settings.profile else Session()
        region = settings.region or session.get_config_variable("region") or DEFAULT_REGION
        if settings.access_key_id and settings.secret_access_key:
            return Credentials(settings.access_key_id, settings.secret_access_key,
                               settings.session_token), region
        credentials = session.get_credentials()
    except ProfileNotFound:
        raise InvalidInput(f"AWS profile {settings.profile!r} not found") from None
    except BotoCoreError as exc:
        # The class name only (a credential process's output may hold secrets), and the file
        # when botocore names one (ConfigParseError: which of ~/.aws/config or credentials).
        path = getattr(exc, "kwargs", {}).get("path")
        where = f" in {path}" if isinstance(path, str) else ""
        raise AuthError(f"cannot load AWS credentials: {type(exc).__name__}{where}") from None
    if credentials is None:
        raise AuthError("no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                        "a profile, or access_key_id/secret_access_key in the spec)")
    return credentials, region


class _SignerTypes:
    """botocore's request and an S3 SigV4 signer that takes the payload hash it is given.

    botocore's own signer hashes the body again (a second SHA-256 of every uploaded byte);
    here each body is hashed once, off the event loop, and no body is handed to botocore.
    """

    def __init__(self) -> None:
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest

        class PayloadKnown(S3SigV4Auth):  # type: ignore[misc]
            def payload(self, request: Any) -> str:
                return str(request.context.get("payload_sha256") or _EMPTY_SHA256)

        self.request = AWSRequest
        self.auth = PayloadKnown


@functools.cache
def _signer_types() -> _SignerTypes:
    """botocore imported on the first signed request, not at start-up."""
    return _SignerTypes()


def endpoint_for(settings: S3Settings, region: str) -> str:
    """``endpoint_url``, else ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``, else AWS's."""
    endpoint = (settings.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3")
                or os.environ.get("AWS_ENDPOINT_URL") or f"https://s3.{region}.amazonaws.com")
    parts_ = urlsplit(endpoint)
    if parts_.scheme not in ("http", "https") or not parts_.netloc:
        raise InvalidInput(f"endpoint_url {endpoint!r} is not an http(s) URL")
    return endpoint.rstrip("/")


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class S3Backend:
    """One bucket over S3's REST API: ListObjectsV2, HEAD/GET/PUT/DELETE, multipart, CopyObject."""

    def __init__(self, settings: S3Settings, *, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = 30.0, tls: TlsContexts = fresh_context) -> None:
        if not settings.bucket:
            raise InvalidInput("an s3 location needs a bucket")
        self.settings = settings
        self._credentials: Any = None
        self._region: str | None = None
        self._endpoint: str | None = None
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(PARTS_IN_MEMORY)
        self._client = httpx.AsyncClient(
            transport=transport, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=tls(settings.trust),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            follow_redirects=False, headers={"Accept-Encoding": "identity"})  # stored bytes

    @property
    def description(self) -> str:
        return f"s3://{self.settings.bucket}"

    async def _ready(self) -> tuple[Any, str, str]:
        async with self._lock:
            if self._credentials is None:
                credentials, region = await asyncio.to_thread(_resolve_credentials, self.settings)
                self._endpoint = endpoint_for(self.settings, region)
                self._region = region
                self._credentials = credentials
        assert self._region is not None and self._endpoint is not None
        return self._credentials, self._region, self._endpoint

    def _url(self, endpoint: str, key: str, query: str = "") -> str:
        path = quote(key, safe="/-_.~")
        scheme, netloc = urlsplit(endpoint)[:2]
        base_path = urlsplit(endpoint).path.rstrip("/")
        if self.settings.use_path_style or not self._virtual_ok():
            url = f"{scheme}://{netloc}{base_path}/{quote(self.settings.bucket, safe='')}/{path}"
        else:
            url = f"{scheme}://{self.settings.bucket}.{netloc}{base_path}/{path}"
        return f"{url}?{query}" if query else url

    def _virtual_ok(self) -> bool:
        """Virtual-hosted addressing needs a DNS-style bucket name and a DNS endpoint host
        (an IP address or localhost endpoint gets path-style, as the AWS SDKs do)."""
        bucket = self.settings.bucket
        host = urlsplit(self._endpoint or "").hostname or ""
        if host == "localhost" or _is_ip(host):
            return False
        return "." not in bucket and bucket.lower() == bucket

    async def _frozen(self) -> Any:
        """Credentials to sign with: a thread only when a refreshable source must refresh
        (static credentials cost no thread hop per request)."""
        credentials, _, _ = await self._ready()
        if not hasattr(credentials, "get_frozen_credentials"):
            return credentials
        refresh_needed = getattr(credentials, "refresh_needed", None)
        if refresh_needed is not None and refresh_needed():
            return await asyncio.to_thread(credentials.get_frozen_credentials)
        return credentials.get_frozen_credentials()

    async def _signed(self, method: str, key: str, *, query: str = "",
                      headers: dict[str, str] | None = None,
                      payload_sha256: str = _EMPTY_SHA256) -> tuple[str, dict[str, str]]:
        _, region, endpoint = await self._ready()
        url = self._url(endpoint, key, query)
        frozen = await self._frozen()
        request = _signer_types().request(method=method, url=url, headers=dict(headers or {}))
        request.context["payload_sha256"] = payload_sha256
        _signer_types().auth(frozen, "s3", region).add_auth(request)
        return url, dict(request.headers.items())

    async def _request(self, method: str, key: str, *, query: str = "",
                       headers: dict[str, str] | None = None, body: Payload = b"",
                       what: str = "object", stream: bool = False) -> httpx.Response:
        where = f"{self.description}: {key}" if key else self.description
        _, _, endpoint = await self._ready()  # named in a network error (first call included)
        payload_sha256 = await sha256_hex(body) if body else _EMPTY_SHA256
        content = Body(body) if body else None
        sent = dict(headers or {})
        if content is not None:
            sent["Content-Length"] = str(content.length)

        async def once() -> httpx.Response:
            url, signed = await self._signed(method, key, query=query, headers=sent,
                                             payload_sha256=payload_sha256)
            request = self._client.build_request(method, url, headers=signed, content=content)
            return await self._client.send(request, stream=True)

        try:
            response = await with_retries(once, where, endpoint=endpoint)
        finally:
            if content is not None:
                content.release()  # the part is let go now, not when a GC finds the request
        if response.status_code >= 300:
            data = await response.aread()
            await response.aclose()
            code = error_code(data)
            if code == "NoSuchBucket":
                raise NotFound(f"bucket {self.settings.bucket!r} does not exist",
                               where=self.description)
            raise status_error(response.status_code, code, where, what=what)
        if not stream:
            await response.aread()
            await response.aclose()
        return response

    # -- ObjectBackend ------------------------------------------------------------------------
    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        token: str | None = None
        while True:
            query = f"list-type=2&prefix={quote(prefix, safe='')}"
            if token:
                query = f"continuation-token={quote(token, safe='')}&{query}"
            query = "&".join(sorted(query.split("&")))
            response = await self._request("GET", "", query=query, what="bucket")
            root = xml_root(response.content, self.description)
            for element in root:
                if local(element.tag) != "Contents":
                    continue
                key = child_text(element, "Key")
                size = child_text(element, "Size")
                if key is None or size is None or not size.isdigit():
                    raise FormatError("malformed ListObjectsV2 entry", where=self.description)
                yield ObjectInfo(key, int(size), http_time(child_text(element, "LastModified")))
            truncated = child_text(root, "IsTruncated") == "true"
            token = child_text(root, "NextContinuationToken")
            if not truncated or not token:
                return

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            response = await self._request("HEAD", key)
        except NotFound as exc:
            if "bucket" in exc.message and "does not exist" in exc.message:
                raise
            return None
        except RegistryError as exc:
            if exc.status == 404:
                return None
            raise
        size = response.headers.get("content-length", "0")
        return ObjectInfo(key, int(size) if size.isdigit() else 0,
                          http_time(response.headers.get("last-modified")))

    async def get(self, key: str) -> AsyncIterator[bytes]:
        async def open_range(extra: dict[str, str]) -> httpx.Response:
            return await self._request("GET", key, what="object", stream=True, headers=extra)

        async for chunk in resumable_get(open_range, f"{self.description}: {key}"):
            yield chunk

    async def put(self, key: str, chunks: AsyncIterable[bytes], size: int,
                  check: Callable[[], None]) -> None:
        if size <= PART_SIZE:
            data = await gather_small(chunks, self._slots)
            try:
                check()
                await self._request("PUT", key, body=data,
                                    headers={"Content-Type": "application/octet-stream"})
            finally:
                self._slots.release()
            return
        await self._multipart(key, chunks, size, check)

    async def _multipart(self, key: str, chunks: AsyncIterable[bytes], size: int,
                         check: Callable[[], None]) -> None:
        response = await self._request("POST", key, query="uploads=",
                                       headers={"Content-Type": "application/octet-stream"})
        upload_id = child_text(xml_root(response.content, key), "UploadId")
        if not upload_id:
            raise FormatError("CreateMultipartUpload answered no UploadId", where=key)
        uid = quote(upload_id, safe="")
        etags: dict[int, str] = {}

        async def upload(number: int, part: list[bytes]) -> None:
            try:
                answer = await self._request("PUT", key, body=part,
                                             query=f"partNumber={number}&uploadId={uid}")
                etags[number] = answer.headers.get("etag", "")
            finally:
                self._slots.release()

        try:
            async with asyncio.TaskGroup() as group:
                number = 0
                pieces = parts(chunks, part_size_for(size, S3_MAX_PARTS))
                while (part := await next_part(pieces, self._slots)) is not None:
                    number += 1
                    group.create_task(upload(number, part))
                    del part  # the task owns it now; do not hold it while the next one fills
            check()  # digest and size, before the object becomes visible
            body = "<CompleteMultipartUpload>" + "".join(
                f"<Part><PartNumber>{n}</PartNumber><ETag>{etags[n]}</ETag></Part>"
                for n in sorted(etags)) + "</CompleteMultipartUpload>"
            done = await self._request("POST", key, query=f"uploadId={uid}",
                                       body=body.encode())
            if local(xml_root(done.content, key).tag) == "Error":
                raise RegistryError("CompleteMultipartUpload failed", where=key)
        except BaseException:
            try:
                await self._request("DELETE", key, query=f"uploadId={uid}")
            except Exception:
                pass
            raise

    async def delete(self, key: str) -> None:
        try:
            await self._request("DELETE", key)
        except NotFound as exc:
            if "bucket" in exc.message:
                raise

    async def touch(self, key: str) -> None:
        """What BuildKit does: CopyObject onto itself, metadata REPLACE, ``updated-at``."""
        source = f"/{self.settings.bucket}/{quote(key, safe='/-_.~')}"
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f +0000 UTC")
        await self._request("PUT", key, headers={
            "x-amz-copy-source": source, "x-amz-metadata-directive": "REPLACE",
            "x-amz-meta-updated-at": stamp, "Content-Type": "application/octet-stream"})

    async def check_bucket(self) -> None:
        """HEAD the bucket: a clear error for a missing bucket or refused credentials."""
        try:
            await self._request("HEAD", "", what="bucket")
        except NotFound:
            raise NotFound(f"bucket {self.settings.bucket!r} does not exist",
                           where=self.description) from None

    async def aclose(self) -> None:
        await self._client.aclose()


class S3Store(ObjectStore):
    """A ``type=s3`` cache location: every manifest under the prefix is a tag."""

    def __init__(self, settings: S3Settings, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 tls: TlsContexts = fresh_context) -> None:
        self.settings = settings
        super().__init__(S3Backend(settings, transport=transport, tls=tls), settings.layout,
                         kind="s3", names=settings.names)
