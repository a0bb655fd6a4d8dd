"""The distribution API of one registry host, on the session's shared ``httpx.AsyncClient``.

Every answer is checked before it is believed: manifests against ``Docker-Content-Digest`` and the
sha256 of their bytes, blobs against digest and size while they stream (a dropped connection
resumes with ``Range``), uploads hashed before the committing ``PUT``. Requests to one host share a
semaphore (the per-registry concurrency limit).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import httpx
else:
    from cachetui.store.lazyhttpx import httpx

from cachetui.errors import CachetuiError, DigestMismatch, NetworkError, RegistryError, TooLarge
from cachetui.oci import mediatypes as mt
from cachetui.oci.digest import Digest, Verifier, is_digest, verify_bytes
from cachetui.oci.models import MAX_MANIFEST_BYTES, Descriptor, TopObject, parse_top
from cachetui.store.base import CHUNK_SIZE
from cachetui.store.registry.auth import RegistryAuth
from cachetui.store.registry.errors import (
    MAX_ERROR_BODY,
    RegistryUnsupported,
    from_response,
    printable,
)
from cachetui.store.registry.lean import REDIRECTS, LeanReader, over_limit
from cachetui.store.registry.lean_api import LeanTransport
from cachetui.store.registry.retry import is_retryable_error, is_retryable_status
from cachetui.store.registry.settings import RegistrySettings
from cachetui.store.registry.transport import (
    Headers,
    RetryableStatus,
    ShortBody,
    attempts,
    check_length,
    network_error,
    paced,
    read_capped,
    refuse_encoding,
    within,
)

MAX_LIST_BYTES: Final = 64 * 1024 * 1024
LEAN_BLOB_BYTES: Final = 4 * 1024 * 1024
"""Blobs up to this size (cache configs) are read whole by the lean path; larger ones stream."""
INLINE_HASH_BYTES: Final = 256 * 1024
"""Received bytes up to this size are hashed on the event loop (tens of microseconds); more go to
a thread. A listing reads thousands of small configs: a thread hand-off each was 3% of its CPU."""
_TAG: Final = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_PLAIN_HOST: Final = re.compile(r"\A[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?\Z")
_LINK_NEXT: Final = re.compile(r'<([^>]*)>\s*;[^,]*rel="?next"?', re.IGNORECASE)


def next_link(response: httpx.Response) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, resolved against the request (may be relative)."""
    return _next_of(response.headers.get_list("link"), response.request.url)


def plain_netloc(scheme: str, host: str) -> str | None:
    """``host`` itself when httpx would leave it as it is (a lower-case ASCII name or IPv4
    address, a port that is not the scheme's default), else ``None`` (ask httpx)."""
    if not _PLAIN_HOST.match(host):
        return None
    name, colon, port = host.partition(":")
    if colon and (int(port) > 65535 or port.startswith("0")
                  or port == {"http": "80", "https": "443"}.get(scheme)):
        return None
    if not name.strip("0123456789."):  # digits and dots: httpx reads an IPv4 address
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            return None
    return host


def _next_of(links: list[str], base: httpx.URL) -> str | None:
    for header in links:
        match = _LINK_NEXT.search(header)
        if match:
            return str(base.join(match.group(1)))
    return None


class RegistryClient:
    """API calls for one ``host[:port]``. Paths take the repository name (``org/app``)."""

    def __init__(self, http: Callable[[], httpx.AsyncClient], auth: RegistryAuth, host: str,
                 settings: RegistrySettings, *,
                 route: Callable[[str, str], LeanTransport | None] | None = None) -> None:
        """``http``: the session's httpx client, asked for when a request needs it (it is made
        then). ``route``: what carries the small document reads of a scheme and ``host[:port]``,
        when the session built its transport (see :mod:`lean`)."""
        self._http = http
        self.auth = auth
        self.host = host
        self.settings = settings
        self.scheme = settings.scheme(host)
        self.origin = f"{self.scheme}://{host}"
        self.limit = asyncio.Semaphore(settings.host(host).concurrency)
        self._route = route
        self._lean: LeanReader | None = None
        self._blobs_redirect = False
        """Seen once: this registry sends blobs elsewhere (object storage), so the lean path,
        which does not follow redirects, is not tried for them again."""

    @property
    def http(self) -> httpx.AsyncClient:
        return self._http()

    @functools.cached_property
    def base(self) -> httpx.URL:
        """The origin as httpx parses it (made when first needed: httpx loads on first use)."""
        try:
            return httpx.URL(self.origin)
        except httpx.InvalidURL as exc:
            raise RegistryError(f"not a valid registry address ({printable(str(exc))})",
                                where=printable(self.host)) from None

    @functools.cached_property
    def netloc(self) -> str:
        """``host[:port]`` as httpx normalises it (what the auth flow keys hosts by)."""
        plain = plain_netloc(self.scheme, self.host)
        return plain if plain is not None else self.base.netloc.decode("ascii")

    def lean(self) -> LeanReader | None:
        """The lean reader of this host, if the session's own transport carries its requests."""
        if self._route is not None:
            transport = self._route(self.scheme, self.netloc)
            if transport is not None:
                self._lean = LeanReader(transport, self.auth, self.netloc, self.origin,
                                        self.settings, self.limit)
            self._route = None
        return self._lean

    def __repr__(self) -> str:
        return f"RegistryClient({self.origin})"

    def url(self, path: str) -> httpx.URL:
        """The URL of an API path (``/v2/...``): one parse, no relative-reference resolution,
        which is measurable when an inventory makes hundreds of requests."""
        if not path.startswith("/"):
            raise ValueError(f"API paths start with '/': {path!r}")
        try:
            return httpx.URL(self.origin + path)
        except httpx.InvalidURL:
            raise RegistryError(f"{printable(path)} is not a valid request path (control "
                                f"characters or other bytes a URL cannot carry)",
                                where=self.host) from None

    def _reference_where(self, repository: str, reference: str) -> str:
        """``host/repo:tag`` or ``host/repo@digest``, checked and safe to print.

        A tag a registry listed may hold anything (control characters, spaces); it becomes that
        tag's error here instead of an exception from deep inside the URL parser.
        """
        sep = "@" if is_digest(reference) else ":"
        where = f"{self.host}/{printable(repository)}{sep}{printable(reference)}"
        if sep == ":" and not _TAG.match(reference):
            raise RegistryError("not a valid tag name (a tag is up to 128 letters, digits, '_', "
                                "'.' and '-'); skipped", where=where)
        return where

    # -- plumbing ---------------------------------------------------------------------------
    async def _once(self, method: str, url: httpx.URL | str, *, where: str, action: str,
                    ok: tuple[int, ...], headers: dict[str, str] | None = None,
                    content: bytes | _Body | AsyncIterator[bytes] | None = None,
                    follow_redirects: bool = False
                    ) -> httpx.Response:
        """One request, streamed; error statuses raise (transient ones as RetryableStatus)."""
        http = self.http
        request = http.build_request(method, url, headers=headers, content=content)
        response = await http.send(request, stream=True,  # (auth: the session's flow)
                                   follow_redirects=follow_redirects)
        if response.status_code in ok:
            return response
        try:
            body = b""
            encoded = response.headers.get("content-encoding", "identity").lower() != "identity"
            if method != "HEAD" and not encoded:
                body = await read_capped(response, MAX_ERROR_BODY, self.settings.pace)
        finally:
            await response.aclose()
        error = from_response(response, body, where=where, action=action)
        if is_retryable_status(response.status_code):
            raise RetryableStatus(response, error)
        raise error

    async def request(self, method: str, path: httpx.URL | str, *, where: str, action: str,
                      ok: tuple[int, ...] = (200,), headers: dict[str, str] | None = None,
                      content: bytes | None = None, limit: int = MAX_ERROR_BODY
                      ) -> tuple[httpx.Response, bytes]:
        """A retried request whose body (at most ``limit`` bytes) is read completely."""
        url = self.url(str(path)) if isinstance(path, str) else path
        body: bytes | _Body | None = content
        if content is not None and len(content) >= CHUNK_SIZE:
            body = _Body(content)
            headers = {**(headers or {}), "Content-Length": str(len(content))}

        async def exchange() -> tuple[httpx.Response, bytes]:
            response = await self._once(method, url, where=where, action=action, ok=ok,
                                        headers=headers, content=body)
            try:
                answer = b"" if method == "HEAD" else await read_capped(
                    response, limit, self.settings.pace, where=where, action=action)
            finally:
                await response.aclose()
            return response, answer

        async def once() -> tuple[httpx.Response, bytes]:
            async with self.limit:
                if content is None:  # a read: a document, under the deadline
                    response, answer = await within(exchange, self.settings.document_deadline,
                                                      where=where, action=action)
                else:
                    response, answer = await exchange()
            if len(answer) > limit:
                raise TooLarge(f"{action}: answer over {limit} bytes", where=where)
            if method != "HEAD":
                check_length(response, len(answer))
            return response, answer

        try:
            return await attempts(once, self.settings.retry, where=where, action=action)
        finally:
            if isinstance(body, _Body):
                body.release()

    # -- reading ----------------------------------------------------------------------------
    async def ping(self) -> None:
        await self.request("GET", "/v2/", where=self.host, action="ping")

    async def _paged(self, path: str, key: str, *, where: str, action: str) -> list[str]:
        """Every page of a listing. A registry that loops (a ``Link`` back to a page already
        read, or a page of nothing but names already listed) or never ends (more than
        ``max_pages``) is an error, not a silent cut nor an endless walk."""
        out: dict[str, None] = {}
        url: httpx.URL | None = None
        """The page to read next; ``None`` for the first, asked for by ``path`` (its URL is made
        only when a next page needs it: the lean path reads it without httpx)."""
        seen: set[str] = set()
        pages = 0
        while True:
            pages += 1
            if pages > self.settings.max_pages:
                raise RegistryError(f"{action}: more than {self.settings.max_pages} pages; "
                                    f"stopped (the registry keeps linking a next page)",
                                    where=where)
            body, link = await self._page(url, path, where=where, action=action)
            try:
                data = json.loads(body) if body else {}
            except (ValueError, UnicodeDecodeError, RecursionError):
                raise RegistryError(f"{action}: malformed JSON answer", where=where) from None
            names = data.get(key) if isinstance(data, dict) else None
            if names is not None and not (isinstance(names, list)
                                          and all(isinstance(n, str) for n in names)):
                raise RegistryError(f"{action}: '{key}' is not a list of names", where=where)
            before = len(out)
            out.update(dict.fromkeys(names or []))
            if link is None:
                break
            seen.add(str(url if url is not None else self.url(path)))
            if link in seen or (names and len(out) == before):
                raise RegistryError(f"{action}: the registry's pages repeat (page {pages} links "
                                    f"back to names already listed); stopped", where=where)
            url = httpx.URL(link)
        return list(out)

    async def _page(self, url: httpx.URL | None, path: str, *, where: str, action: str
                    ) -> tuple[bytes, str | None]:
        """One page of a listing and the URL of the next: the first (``url`` is ``None``: it is
        ``path``) on the lean path when it can be (the ``Link`` of a later one may lead
        anywhere)."""
        lean = None if url is not None else self.lean()
        answer = None if lean is None else await lean.fetch(
            "GET", path, where=where, action=action, accept=None, limit=MAX_LIST_BYTES)
        if answer is not None and answer.status == 200:
            if over_limit(answer, MAX_LIST_BYTES):
                raise TooLarge(f"{action}: answer over {MAX_LIST_BYTES} bytes", where=where)
            link = answer.headers.get("link")
            return answer.body, _next_of([link], self.url(path)) if link else None
        response, body = await self.request("GET", url or self.url(path), where=where,
                                            action=action, limit=MAX_LIST_BYTES)
        return body, next_link(response)

    async def catalog(self, page_size: int | None = None) -> list[str]:
        path = "/v2/_catalog" + (f"?n={page_size}" if page_size else "")
        return await self._paged(path, "repositories", where=self.host, action="list repositories")

    async def list_tags(self, repository: str, page_size: int | None = None) -> list[str]:
        path = f"/v2/{repository}/tags/list" + (f"?n={page_size}" if page_size else "")
        return await self._paged(path, "tags", where=f"{self.host}/{printable(repository)}",
                                 action="list tags")

    async def head_manifest(self, repository: str, reference: str) -> Descriptor:
        where = self._reference_where(repository, reference)
        path = f"/v2/{repository}/manifests/{reference}"
        lean = self.lean()
        answer = None if lean is None else await lean.fetch(
            "HEAD", path, where=where, action="resolve", accept=mt.ACCEPT_ALL_MANIFESTS, limit=0)
        if answer is not None and answer.status == 200:
            headers = answer.headers
        else:
            response, _ = await self.request("HEAD", path, where=where, action="resolve",
                                             headers={"Accept": mt.ACCEPT_ALL_MANIFESTS})
            headers = response.headers
        digest = headers.get("docker-content-digest") or ""
        length = headers.get("content-length") or ""
        media_type = (headers.get("content-type") or "").split(";")[0].strip()
        if not is_digest(digest) or not length.isdigit() or media_type not in mt.TOP_LEVEL_TYPES:
            top = await self.get_manifest(repository, reference)
            return top.descriptor
        if is_digest(reference) and digest != reference:
            raise DigestMismatch(f"registry says {Digest(digest).short}", where=where)
        return Descriptor(media_type=media_type, digest=digest, size=int(length))

    async def get_manifest(self, repository: str, reference: str) -> TopObject:
        where = self._reference_where(repository, reference)
        path = f"/v2/{repository}/manifests/{reference}"
        lean = self.lean()
        answer = None if lean is None else await lean.fetch(
            "GET", path, where=where, action="get manifest", accept=mt.ACCEPT_ALL_MANIFESTS,
            limit=MAX_MANIFEST_BYTES)
        if answer is not None and answer.status == 200:
            headers, raw = answer.headers, answer.body
            _check_manifest_size(headers, len(raw), where)
        else:
            headers, raw = await self._get_manifest_httpx(path, where)
        actual = Digest.of(raw)
        header = headers.get("docker-content-digest")
        if header is not None and header != actual:
            raise DigestMismatch(f"Docker-Content-Digest is {header[:19]}..., but the bytes hash "
                                 f"to {actual.short}", where=where)
        if is_digest(reference) and actual != reference:
            raise DigestMismatch(f"content hashes to {actual.short}", where=where)
        media_type = (headers.get("content-type") or "").split(";")[0].strip()
        return parse_top(raw, media_type=media_type if media_type in mt.TOP_LEVEL_TYPES else None,
                         where=where)

    async def _get_manifest_httpx(self, path: str, where: str) -> tuple[httpx.Headers, bytes]:
        url = self.url(path)

        async def exchange() -> tuple[httpx.Response, bytes]:
            response = await self._once("GET", url, where=where, action="get manifest",
                                        ok=(200,), headers={"Accept": mt.ACCEPT_ALL_MANIFESTS})
            try:
                _check_manifest_size(response.headers, 0, where)
                raw = await read_capped(response, MAX_MANIFEST_BYTES, self.settings.pace,
                                        where=where, action="get manifest")
            finally:
                await response.aclose()
            return response, raw

        async def once() -> tuple[httpx.Response, bytes]:
            async with self.limit:
                response, raw = await within(exchange, self.settings.document_deadline,
                                                 where=where, action="get manifest")
            _check_manifest_size(response.headers, len(raw), where)
            check_length(response, len(raw))
            return response, raw

        response, raw = await attempts(once, self.settings.retry, where=where,
                                       action="get manifest")
        return response.headers, raw

    async def blob_size(self, repository: str, digest: Digest) -> int | None:
        where = f"{self.host}/{repository}: blob {digest.short}"
        try:
            response, _ = await self.request("HEAD", f"/v2/{repository}/blobs/{digest}",
                                             where=where, action="check blob")
        except CachetuiError as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise
        length = response.headers.get("content-length", "")
        return int(length) if length.isdigit() else None

    async def read_blob(self, repository: str, descriptor: Descriptor) -> bytes:
        """A whole small blob (a cache config), verified: on the lean path when it can be (one
        read, hashed at once), else streamed. A registry that redirects blobs elsewhere is
        followed from the redirect it gave (no second request to it)."""
        digest = Digest(descriptor.digest)
        lean = self.lean() if descriptor.size <= LEAN_BLOB_BYTES else None
        start: httpx.URL | None = None
        if lean is not None and not self._blobs_redirect:
            where = f"{self.host}/{repository}: blob {digest.short}"
            answer = await lean.fetch("GET", f"/v2/{repository}/blobs/{digest}", where=where,
                                      action="download blob", accept=None, limit=descriptor.size)
            if answer is not None and answer.status == 200:
                data = answer.body
                if over_limit(answer, descriptor.size):
                    raise DigestMismatch(f"more bytes than the declared size {descriptor.size}",
                                         where=where)
                if len(data) > INLINE_HASH_BYTES:
                    await asyncio.to_thread(verify_bytes, data, digest, descriptor.size,
                                            where=where)
                else:
                    verify_bytes(data, digest, descriptor.size, where=where)
                return data
            location = None if answer is None else answer.headers.get("location")
            if answer is not None and answer.status in REDIRECTS and location:
                self._blobs_redirect = True
                start = self.base.join(f"/v2/{repository}/blobs/{digest}").join(location)
        return b"".join([chunk async for chunk in self.stream_blob(repository, descriptor,
                                                                    start=start)])

    async def stream_blob(self, repository: str, descriptor: Descriptor, *,
                          start: httpx.URL | None = None) -> AsyncIterator[bytes]:
        """Verified chunks of >= 1 MiB (the last may be smaller); resumes with ``Range``.

        Only the request holds one of the registry's slots; the body streams outside it.
        ``start``: where the registry redirected this blob already.
        """
        digest = Digest(descriptor.digest)
        size = descriptor.size
        where = f"{self.host}/{repository}: blob {digest.short}"
        url = start if start is not None else self.url(f"/v2/{repository}/blobs/{digest}")
        verifier = Verifier(digest, size, where=where)
        policy = self.settings.retry
        buffer = _Pieces()  # joined once per chunk: one copy of each byte, not two
        pending: bytes | None = None
        failures = 0
        while True:
            offset = verifier.received + buffer.size  # everything received so far is kept
            headers = {"Range": f"bytes={offset}-"} if offset else None
            try:
                # The request slot covers the request, not the body: a consumer that feeds an
                # upload to this same registry must be able to get a slot for it (no deadlock).
                async with self.limit:
                    response = await self._once("GET", url, where=where, action="download blob",
                                                ok=(200, 206), headers=headers,
                                                follow_redirects=True)
                try:
                    refuse_encoding(response, where=where, action="download blob")
                    skip = _resume_skip(response, offset, size, where)
                    async for piece in paced(response, self.settings.pace):
                        if skip:
                            dropped = min(skip, len(piece))
                            piece, skip = piece[dropped:], skip - dropped
                        buffer.add(piece)
                        if verifier.received + buffer.size > size:
                            raise DigestMismatch(f"more bytes than the declared size {size}",
                                                 where=where)
                        if buffer.size >= CHUNK_SIZE:
                            full = buffer.take(buffer.size)
                            await asyncio.to_thread(verifier.update, full)
                            if pending is not None:
                                yield pending
                            pending = full
                            failures = 0
                finally:
                    await response.aclose()
                if verifier.received + buffer.size < size:
                    raise ShortBody(f"got {verifier.received + buffer.size} of {size} bytes")
                break
            except (RetryableStatus, httpx.TransportError, ShortBody) as exc:
                if isinstance(exc, httpx.TransportError) and not _resumable(exc):
                    raise network_error(exc, where=where, action="download blob") from None
                failures += 1
                if failures >= policy.attempts:
                    if isinstance(exc, RetryableStatus):
                        raise exc.error from None
                    raise network_error(exc, where=where, action="download blob") from None
                response_for_delay = exc.response if isinstance(exc, RetryableStatus) else None
                await asyncio.sleep(policy.delay(failures, response_for_delay))
        rest = buffer.take(buffer.size)
        if len(rest) > INLINE_HASH_BYTES:
            await asyncio.to_thread(verifier.update, rest)
        elif rest:  # a config or the tail of a blob: hashing it costs less than a thread hop
            verifier.update(rest)
        verifier.verify()  # before the last chunk is handed over
        if pending is not None:
            yield pending
        if rest:
            yield rest

    # -- writing ----------------------------------------------------------------------------
    async def _start_upload(self, repository: str, where: str) -> tuple[httpx.URL, int]:
        response, _ = await self.request("POST", f"/v2/{repository}/blobs/uploads/", where=where,
                                         action="start upload", ok=(202,),
                                         headers={"Content-Length": "0"})
        location = response.headers.get("location")
        if not location:
            raise RegistryError("start upload: no Location in the answer", where=where)
        minimum = response.headers.get("oci-chunk-min-length", "")
        return response.request.url.join(location), int(minimum) if minimum.isdigit() else 0

    async def _cancel_upload(self, location: httpx.URL, where: str) -> None:
        try:
            await self.request("DELETE", location, where=where, action="cancel upload",
                               ok=(200, 202, 204, 404))
        except CachetuiError:
            pass  # the registry expires abandoned sessions itself

    async def upload_blob(self, repository: str, descriptor: Descriptor,
                          chunks: AsyncIterable[bytes]) -> None:
        """Monolithic ``PUT`` for small blobs, streamed ``PATCH`` chunks for large ones.

        Small blobs are hashed here before anything is sent. A large blob streams: each PATCH body
        is drawn from ``chunks`` while it is being sent (its ``Content-Length`` and
        ``Content-Range`` are known up front), so memory does not grow with the chunk size and no
        byte is copied on the way. Few, large PATCHes also spare the registry a hash-state save
        and restore per chunk. The digest of a large blob is checked by the registry, which must
        refuse the closing ``PUT ?digest=`` with ``DIGEST_INVALID`` if the bytes do not match (the
        source stream is verified as it is read too), so a wrong blob is never committed.

        A PATCH that fails cannot be replayed (its bytes were never kept): the upload session is
        cancelled and the error raised; :func:`cachetui.ops.transfer.transfer_blob` re-opens the
        source and tries the blob again.
        """
        digest = Digest(descriptor.digest)
        where = f"{self.host}/{repository}: blob {digest.short}"
        iterator = chunks.__aiter__()
        held = _Pieces()
        exhausted = False
        while held.size <= self.settings.monolithic_limit:
            try:
                piece = await anext(iterator)
            except StopAsyncIteration:
                exhausted = True
                break
            held.add(piece)
        if exhausted:
            data = held.take(held.size)
            await asyncio.to_thread(verify_bytes, data, digest, descriptor.size, where=where)
            location, _ = await self._start_upload(repository, where)
            await self._finish_upload(location, digest, data, where)
            return
        feed = _Feed(held, iterator, descriptor.size, where)
        location, minimum = await self._start_upload(repository, where)
        chunk_size = max(self.settings.upload_chunk, minimum, 1)
        offset = 0
        try:
            while offset < descriptor.size:
                length = min(chunk_size, descriptor.size - offset)
                location = await self._patch(location, offset, length, feed.body(length), where)
                offset += length
            await feed.expect_end()
        except BaseException:
            await asyncio.shield(self._cancel_upload(location, where))
            raise
        await self._finish_upload(location, digest, b"", where)

    async def _patch(self, location: httpx.URL, offset: int, length: int,
                     body: AsyncIterator[bytes], where: str) -> httpx.URL:
        """One streamed chunk; not retried here (see :meth:`upload_blob`)."""
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length),
                   "Content-Range": f"{offset}-{offset + length - 1}"}
        try:
            async with self.limit:
                response = await self._once("PATCH", location, where=where, action="upload chunk",
                                            ok=(202, 204), headers=headers, content=body)
                await response.aclose()
        except RetryableStatus as exc:
            raise exc.error from None
        except httpx.TransportError as exc:
            raise network_error(exc, where=where, action="upload chunk") from None
        except httpx.StreamError:
            # The auth flow wanted to send the chunk again (a token expired mid-chunk).
            raise NetworkError("upload chunk: the registry asked to authenticate again while a "
                               "chunk was streaming", where=where) from None
        next_location = response.headers.get("location")
        return response.request.url.join(next_location) if next_location else location

    async def _finish_upload(self, location: httpx.URL, digest: Digest, data: bytes,
                             where: str) -> None:
        url = location.copy_merge_params({"digest": str(digest)})
        await self.request("PUT", url, where=where, action="finish upload", ok=(201, 204),
                           headers={"Content-Type": "application/octet-stream"}, content=data)

    async def mount_blob(self, repository: str, digest: Digest, source: str) -> bool:
        where = f"{self.host}/{repository}: blob {digest.short}"
        path = httpx.URL(f"/v2/{repository}/blobs/uploads/",
                         params={"mount": str(digest), "from": source})
        try:
            response, _ = await self.request("POST", self.base.join(path), where=where,
                                             action="mount blob", ok=(201, 202),
                                             headers={"Content-Length": "0"})
        except NetworkError:
            raise
        except CachetuiError:
            return False
        if response.status_code == 201:
            return True
        location = response.headers.get("location")
        if location:
            await self._cancel_upload(response.request.url.join(location), where)
        return False

    async def put_manifest(self, repository: str, top: TopObject, reference: str) -> None:
        where = f"{self.host}/{repository}:{reference}"
        response, _ = await self.request("PUT", f"/v2/{repository}/manifests/{reference}",
                                         where=where, action="put manifest", ok=(200, 201, 202),
                                         headers={"Content-Type": top.media_type},
                                         content=top.raw)
        stored = response.headers.get("docker-content-digest")
        if stored is not None and stored != top.digest:
            raise DigestMismatch(f"the registry stored {stored[:19]}..., expected "
                                 f"{top.digest.short}", where=where)

    async def delete_manifest(self, repository: str, digest: Digest) -> None:
        where = f"{self.host}/{repository}@{digest}"
        try:
            await self.request("DELETE", f"/v2/{repository}/manifests/{digest}", where=where,
                               action="delete manifest", ok=(200, 202))
        except RegistryUnsupported as exc:
            raise RegistryUnsupported(
                "the registry does not allow deleting manifests (distribution: "
                "storage.delete.enabled is off)", where=where, status=exc.status, code=exc.code,
            ) from None

    async def delete_tag(self, repository: str, tag: str) -> None:
        where = f"{self.host}/{repository}:{tag}"
        try:
            await self.request("DELETE", f"/v2/{repository}/manifests/{tag}", where=where,
                               action="delete tag", ok=(200, 202))
        except RegistryError as exc:
            if exc.status in (400, 405) or exc.code == "UNSUPPORTED":
                raise RegistryUnsupported(
                    "the registry cannot delete a tag alone; delete the manifest by digest "
                    "instead (that removes every tag pointing at it)",
                    where=where, status=exc.status, code=exc.code) from None
            raise
        except RegistryUnsupported as exc:
            raise RegistryUnsupported(
                "the registry cannot delete a tag alone; delete the manifest by digest "
                "instead (that removes every tag pointing at it)",
                where=where, status=exc.status, code=exc.code) from None


class _Body:
    """A request body that can be sent again (retries, auth challenges) and then let go.

    httpx keeps finished requests alive in reference cycles until the garbage collector runs;
    with plain ``bytes`` every uploaded chunk stayed in memory that long.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._data

    def release(self) -> None:
        self._data = b""


class _Pieces:
    """Received pieces not yet sent, joined only when a request body is cut from them."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self.size = 0

    def add(self, piece: bytes) -> None:
        if piece:
            self._pieces.append(piece)
            self.size += len(piece)

    def take(self, count: int) -> bytes:
        """The first ``count`` bytes (``count <= size``); the rest stays."""
        out: list[bytes] = []
        needed = count
        while needed and self._pieces:
            first = self._pieces[0]
            if len(first) <= needed:
                out.append(self._pieces.pop(0))
                needed -= len(first)
            else:
                out.append(first[:needed])
                self._pieces[0] = first[needed:]
                needed = 0
        self.size -= count - needed
        return b"".join(out)

    def take_piece(self, most: int) -> bytes:
        """The first piece, or its first ``most`` bytes: no join, no copy of whole pieces."""
        first = self._pieces[0]
        if len(first) <= most:
            del self._pieces[0]
        else:
            first, self._pieces[0] = first[:most], first[most:]
        self.size -= len(first)
        return first


class _Feed:
    """The rest of a large blob's source, cut into PATCH bodies; checks the declared size."""

    def __init__(self, held: _Pieces, source: AsyncIterator[bytes], size: int, where: str) -> None:
        self._held = held
        self._source = source
        self._received = held.size
        self._size = size
        self._where = where

    async def _fill(self) -> bool:
        piece = await anext(self._source, None)
        if piece is None:
            return False
        self._received += len(piece)
        if self._received > self._size:
            raise DigestMismatch(f"more bytes than the declared size {self._size}",
                                 where=self._where)
        self._held.add(piece)
        return True

    async def body(self, length: int) -> AsyncIterator[bytes]:
        """Exactly ``length`` bytes, in the pieces the source gave."""
        remaining = length
        while remaining:
            if not self._held.size and not await self._fill():
                raise DigestMismatch(f"size is {self._received} bytes, expected {self._size}",
                                     where=self._where)
            piece = self._held.take_piece(remaining)
            remaining -= len(piece)
            yield piece

    async def expect_end(self) -> None:
        """The source must end exactly at the declared size."""
        if self._held.size or await self._fill():
            raise DigestMismatch(f"more bytes than the declared size {self._size}",
                                 where=self._where)


def _check_manifest_size(headers: Headers, received: int, where: str) -> None:
    """A manifest is refused over :data:`MAX_MANIFEST_BYTES`, declared or received."""
    declared = headers.get("content-length") or ""
    if declared.isdigit() and int(declared) > MAX_MANIFEST_BYTES:
        raise TooLarge(f"manifest is {declared} bytes, over the {MAX_MANIFEST_BYTES} byte limit",
                       where=where)
    if received > MAX_MANIFEST_BYTES:
        raise TooLarge(f"manifest is over the {MAX_MANIFEST_BYTES} byte limit", where=where)


def _resume_skip(response: httpx.Response, offset: int, size: int, where: str) -> int:
    """Bytes to drop from a resumed answer (a server that ignores ``Range`` starts at 0)."""
    if offset == 0 or response.status_code == 200:
        return offset
    content_range = response.headers.get("content-range", "")
    match = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", content_range)
    if match is None or int(match.group(1)) != offset:
        raise NetworkError(f"resumed download started at the wrong offset ({content_range!r})",
                           where=where)
    if match.group(3) != "*" and int(match.group(3)) != size:
        raise DigestMismatch(f"registry says the blob is {match.group(3)} bytes, expected {size}",
                             where=where)
    return 0


def _resumable(exc: httpx.TransportError) -> bool:
    return is_retryable_error(exc)
