"""What the s3 and azblob clients share: retries with backoff, error lines, XML, chunked upload.

Both speak plain HTTP through one ``httpx.AsyncClient`` (the project's HTTP stack), so neither
needs a provider SDK with its own second stack.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

import httpx

from cachetui.errors import (
    AuthError,
    DigestMismatch,
    FormatError,
    NetworkError,
    NotFound,
    RegistryError,
    TooLarge,
)
from cachetui.store.netreason import network_reason

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS: Final = 5
PART_SIZE: Final = 8 * 1024 * 1024
"""Upload part / block size: S3's minimum part is 5 MiB; memory is parts in flight x this."""
MAX_XML: Final = 32 * 1024 * 1024
PARTS_IN_MEMORY: Final = 3
"""Upload parts (or whole small blobs) a backend holds at once, across all blobs being copied:
memory stays near this x :data:`PART_SIZE` whatever the blob sizes and copy concurrency."""
S3_MAX_PARTS: Final = 10_000
"""S3's limit on the parts of one multipart upload."""
AZURE_MAX_BLOCKS: Final = 50_000
"""Azure's limit on the committed blocks of one block blob."""


def part_size_for(size: int, max_parts: int) -> int:
    """:data:`PART_SIZE`, or the smallest whole MiB that fits ``size`` into ``max_parts``
    parts (8 MiB parts stop at 78 GiB on S3): memory grows only for blobs that need it."""
    mib = 1024 * 1024
    needed = -(-size // max_parts)
    return max(PART_SIZE, -(-needed // mib) * mib)


SEND_PIECE: Final = 256 * 1024
"""A part goes to the socket in pieces this big: the transport never buffers a whole copy."""
READ_CHUNK: Final = 1024 * 1024
HASH_OFF_LOOP: Final = 1024 * 1024
"""Bodies from this size are hashed in a thread (hashlib releases the GIL), off the event loop."""


class ObjectChanged(NetworkError):
    """The object changed (its validator moved) while it was being read: bytes already handed
    over may belong to the old version, so the whole read must start again (transient: a copy
    re-opens the source)."""


Payload = bytes | list[bytes]
"""A request body: bytes, or an upload part kept as the chunks it was read in (never joined)."""


def pieces_of(payload: Payload) -> list[bytes]:
    return [payload] if isinstance(payload, bytes) else payload


class Body:
    """A request body that can be sent again (retries) and is let go once the request is done.

    httpx keeps finished requests alive in reference cycles until the garbage collector runs;
    a plain ``bytes`` body kept every uploaded part in memory that long, so upload memory grew
    with the blob size. A part stays the chunks it was read in (joining them would hold two
    copies for a moment) and goes to the socket in :data:`SEND_PIECE` slices, so the socket
    transport copies a slice at a time instead of buffering the rest of the part.
    """

    def __init__(self, payload: Payload) -> None:
        self._pieces = pieces_of(payload)
        self.length = sum(len(piece) for piece in self._pieces)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            if len(piece) <= SEND_PIECE:
                yield piece
                continue
            for start in range(0, len(piece), SEND_PIECE):
                yield piece[start:start + SEND_PIECE]

    def release(self) -> None:
        self._pieces = []


async def sha256_hex(payload: Payload) -> str:
    """SHA-256 of a request body; big ones off the event loop."""
    pieces = pieces_of(payload)

    def digest() -> str:
        hasher = hashlib.sha256()
        for piece in pieces:
            hasher.update(piece)
        return hasher.hexdigest()

    if sum(len(piece) for piece in pieces) >= HASH_OFF_LOOP:
        return await asyncio.to_thread(digest)
    return digest()


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before retry ``attempt`` (1-based): exponential with jitter, capped."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), 30.0)
    return float(min(0.2 * 2.0 ** (attempt - 1), 5.0) * (0.5 + random.random() / 2))


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def xml_root(data: bytes, where: str) -> ET.Element:
    if len(data) > MAX_XML:
        raise TooLarge(f"XML answer over {MAX_XML} bytes", where=where)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise FormatError("XML answer with a DTD refused", where=where)
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise FormatError(f"malformed XML answer: {exc}", where=where) from None


def local(tag: str) -> str:
    """An element name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def child_text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if local(child.tag) == name:
            return child.text or ""
    return None


def error_code(data: bytes) -> str | None:
    """``<Error><Code>…</Code>`` of an S3 or Azure error body, if it has one."""
    if not data.lstrip().startswith(b"<"):
        return None
    try:
        root = ET.fromstring(data[:65536])
    except ET.ParseError:
        return None
    return child_text(root, "Code")


def http_time(value: str | None) -> datetime:
    """RFC 1123 ``Last-Modified`` (or ISO 8601) as an aware UTC time."""
    if not value:
        return datetime.fromtimestamp(0, UTC)
    try:
        if value[:4].isdigit():
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        return parsedate_to_datetime(value).astimezone(UTC)
    except (ValueError, TypeError):
        return datetime.fromtimestamp(0, UTC)


def status_error(status: int, code: str | None, where: str, *, what: str) -> RegistryError:
    """One clear line for an error answer; never echoes request headers (they hold secrets)."""
    shown = f" ({code})" if code else ""
    if status in (401, 403):
        return AuthError(f"access denied{shown}: check the credentials and their permissions",
                         where=where, status=status, code=code)
    if status == 404:
        return NotFound(f"{what} not found{shown}", where=where)  # type: ignore[return-value]
    return RegistryError(f"HTTP {status}{shown}", where=where, status=status, code=code)


async def with_retries(call: Callable[[], Awaitable[httpx.Response]], where: str,
                       *, endpoint: str) -> httpx.Response:
    """Run ``call`` until it answers something other than a transient error.

    The response of a transient status is read and closed before the next attempt.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            response = await call()
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            if attempt >= MAX_ATTEMPTS:
                raise NetworkError(f"cannot reach {endpoint}: {network_reason(exc)}",
                                   where=where) from None
            await asyncio.sleep(backoff(attempt))
            continue
        if response.status_code in RETRY_STATUSES and attempt < MAX_ATTEMPTS:
            await response.aread()
            await response.aclose()
            await asyncio.sleep(backoff(attempt, retry_after(response)))
            continue
        return response


async def next_part(parts_: AsyncIterator[list[bytes]],
                    slots: asyncio.Semaphore) -> list[bytes] | None:
    """Take a memory slot, then the next part (``None`` at the end, slot given back).

    The caller releases the slot once the part is sent.
    """
    await slots.acquire()
    try:
        return await anext(parts_)
    except StopAsyncIteration:
        slots.release()
        return None
    except BaseException:
        slots.release()
        raise


async def gather_small(chunks: AsyncIterable[bytes], slots: asyncio.Semaphore) -> list[bytes]:
    """A whole small blob in memory (as its chunks), holding one slot (the caller releases it)."""
    await slots.acquire()
    try:
        return [chunk async for chunk in chunks]
    except BaseException:
        slots.release()
        raise


async def parts(chunks: AsyncIterable[bytes], size: int) -> AsyncIterator[list[bytes]]:
    """Re-cut a chunk stream into parts of exactly ``size`` bytes (the last may be shorter).

    A part is the list of chunks (or chunk slices) it is made of: nothing is joined, so a
    part is never in memory twice. This generator keeps no reference to a part it handed over:
    it stays suspended until the caller gets a slot for the next part, and a part held here
    all that time (one per blob waiting for a slot) was memory that grew with concurrency.
    """
    pending: list[bytes] = []
    held = 0
    async for chunk in chunks:
        while chunk:
            take = min(len(chunk), size - held)
            pending.append(chunk[:take] if take < len(chunk) else chunk)
            held += take
            chunk = chunk[take:]
            if held == size:
                yield _drain(pending)
                held = 0
    if pending:
        yield _drain(pending)


def _drain(pending: list[bytes]) -> list[bytes]:
    """The pieces of ``pending``, which is left empty (the caller keeps no reference)."""
    out = pending[:]
    pending.clear()
    return out


OpenRange = Callable[[dict[str, str]], Awaitable[httpx.Response]]
"""Send a GET with these extra headers; a streaming response (error statuses already raised)."""


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def _resumed_skip(response: httpx.Response, offset: int, total: int | None, where: str) -> int:
    """Bytes to drop from the answer to a ``Range`` request: 0 for a 206 that starts at
    ``offset``, ``offset`` for a 200 (the server ignored the range and sent it all again)."""
    if response.status_code == 200:
        return offset
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)",
                         response.headers.get("content-range", "").strip())
    if match is None or int(match.group(1)) != offset:
        raise NetworkError("resumed download started at the wrong offset", where=where)
    if total is not None and match.group(3) != "*" and int(match.group(3)) != total:
        raise ObjectChanged("object changed size while it was read", where=where)
    return 0


async def resumable_get(open_range: OpenRange, where: str) -> AsyncIterator[bytes]:
    """An object's bytes; a stream cut mid-body resumes with ``Range`` from the last byte
    received instead of starting over.

    The resumed request carries ``If-Match`` with the first answer's ETag (else
    ``If-Unmodified-Since`` with its Last-Modified): a changed object answers 412 and the read
    fails with :class:`ObjectChanged` (transient: the caller starts over, bytes it already has
    may be the old version's). A server that ignores ``Range`` answers 200 with the whole
    object; the bytes already received are skipped. Size is checked against the first
    ``Content-Length``; the digest is the caller's (it hashes every byte it is handed, so the
    running hash carries across a resume).
    """
    response = await open_range({})
    total = _content_length(response)
    validator: dict[str, str] = {}
    if response.headers.get("etag"):
        validator["If-Match"] = response.headers["etag"]
    elif response.headers.get("last-modified"):
        validator["If-Unmodified-Since"] = response.headers["last-modified"]
    received = 0
    failures = 0
    skip = 0
    while True:
        progressed = False
        try:
            async for chunk in response.aiter_raw(READ_CHUNK):  # stored bytes, never decoded
                if skip:
                    dropped = min(skip, len(chunk))
                    chunk, skip = chunk[dropped:], skip - dropped
                    if not chunk:
                        continue
                received += len(chunk)
                if total is not None and received > total:
                    raise DigestMismatch(f"more bytes than the announced {total}", where=where)
                progressed = True
                yield chunk
            if total is None or received >= total:
                return
            failure: str = f"body ended after {received} of {total} bytes"
        except httpx.TransportError as exc:
            failure = type(exc).__name__
        finally:
            await response.aclose()
        failures = 1 if progressed else failures + 1
        if failures >= MAX_ATTEMPTS:
            raise NetworkError(f"download broke {failures} times in a row: {failure}",
                               where=where)
        await asyncio.sleep(backoff(failures))
        try:
            response = await open_range({"Range": f"bytes={received}-", **validator})
        except RegistryError as exc:
            if exc.status == 412:
                raise ObjectChanged("object changed while it was read: start over",
                                    where=where) from None
            raise
        try:
            skip = _resumed_skip(response, received, total, where)
        except BaseException:
            await response.aclose()
            raise
