"""Azure Blob Storage's block blob calls behind SAS URLs, as BuildKit's Azure SDK makes them."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING

from tests.gha_emulator.http import Request, Response
from tests.gha_emulator.state import StoredBlob

if TYPE_CHECKING:
    from tests.gha_emulator.emulator import GitHubEmulator

API_VERSION = "2025-11-05"


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.replace(microsecond=0), usegmt=True)


def _common() -> list[tuple[str, str]]:
    return [("x-ms-request-id", str(uuid.uuid4())), ("x-ms-version", API_VERSION)]


def _error(status: int, code: str, message: str) -> Response:
    body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>").encode()
    return Response(status, [("Content-Type", "application/xml"), ("x-ms-error-code", code),
                             *_common()], body)


def store(emulator: GitHubEmulator, name: str, data: bytes, when: datetime) -> StoredBlob:
    blob = StoredBlob(data, when, when, emulator.blobs.next_etag())
    emulator.blobs.blobs[name] = blob
    return blob


def _written(blob: StoredBlob, body: bytes) -> Response:
    return Response(201, [("etag", blob.etag), ("last-modified", _http_date(blob.modified)),
                          ("content-md5", _md5(body)), *_common(),
                          ("x-ms-request-server-encrypted", "true")])


def _block_ids(xml: bytes) -> list[str] | None:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    if root.tag != "BlockList":
        return None
    return [(child.text or "") for child in root]


def handle(emulator: GitHubEmulator, request: Request, name: str) -> Response:
    writing = request.method == "PUT"
    if not emulator.check_sas(name, request, "w" if writing else "r"):
        return _error(403, "AuthenticationFailed",
                      "Server failed to authenticate the request.")
    now = emulator.clock()
    if writing:
        comp = request.query.get("comp")
        if comp == "block":
            emulator.blobs.staged.setdefault(name, {})[request.query.get("blockid", "")] = \
                request.body
            return Response(201, [*_common(), ("x-ms-request-server-encrypted", "true")])
        if comp == "blocklist":
            ids = _block_ids(request.body)
            staged = emulator.blobs.staged.get(name, {})
            if ids is None or any(block not in staged for block in ids):
                return _error(400, "InvalidBlockList", "The specified block list is invalid.")
            data = b"".join(staged[block] for block in ids)
            emulator.blobs.staged.pop(name, None)
            return _written(store(emulator, name, data, now), request.body)
        if request.header("x-ms-blob-type") != "BlockBlob":
            return _error(400, "MissingRequiredHeader", "x-ms-blob-type is required.")
        return _written(store(emulator, name, request.body, now), request.body)
    if request.method not in ("GET", "HEAD"):
        return _error(405, "UnsupportedHttpVerb", "The resource doesn't support the verb.")
    blob = emulator.blobs.blobs.get(name)
    if blob is None:
        return _error(404, "BlobNotFound", "The specified blob does not exist.")
    headers = [
        ("last-modified", _http_date(blob.modified)),
        ("x-ms-creation-time", _http_date(blob.created)),
        ("etag", blob.etag),
        ("content-md5", _md5(blob.data)),
        ("x-ms-blob-type", "BlockBlob"),
        ("x-ms-lease-state", "available"),
        ("x-ms-lease-status", "unlocked"),
        *_common(),
        ("accept-ranges", "bytes"),
        ("x-ms-server-encrypted", "true"),
        ("x-ms-blob-content-md5", _md5(blob.data)),
        ("Content-Type", "application/octet-stream"),
    ]
    wanted = request.header("x-ms-range") or request.header("range")
    if wanted:
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted)
        if match is None or int(match.group(1)) >= len(blob.data):
            return _error(416, "InvalidRange", "The range specified is invalid.")
        start = int(match.group(1))
        end = min(int(match.group(2)) if match.group(2) else len(blob.data) - 1,
                  len(blob.data) - 1)
        headers = [h for h in headers if h[0] != "content-md5"]
        headers.append(("Content-Range", f"bytes {start}-{end}/{len(blob.data)}"))
        return Response(206, headers, blob.data[start:end + 1])
    return Response(200, headers, blob.data)
