"""The v1 cache service, ``{ACTIONS_CACHE_URL}_apis/artifactcache/...`` (GHES may still run it)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from tests.gha_emulator.http import Request, Response
from tests.gha_emulator.state import Entry, iso_ms

if TYPE_CHECKING:
    from tests.gha_emulator.emulator import GitHubEmulator

PREFIX = "/_apis/artifactcache/"


def _json(status: int, payload: object) -> Response:
    return Response(status, [("Content-Type", "application/json")], json.dumps(payload).encode())


def _error(status: int, message: str, type_key: str) -> Response:
    return _json(status, {"$id": "1", "innerException": None, "message": message,
                          "typeName": f"GitHub.Services.Cache.{type_key}, GitHub.Services",
                          "typeKey": type_key, "errorCode": 0, "eventId": 3000})


def handle(emulator: GitHubEmulator, request: Request) -> Response:
    rest = request.path[len(PREFIX):]
    download = re.fullmatch(r"_download/(\d+)", rest)
    if download and request.method == "GET":
        return _download(emulator, request, download.group(1))
    scopes = emulator.runtime_scopes(request)
    if scopes is None:
        return _error(401, "The user is not authorized.", "UnauthorizedException")
    repo = emulator.repository(emulator.runtime_repo)
    if rest == "cache" and request.method == "GET":
        keys = [k for k in request.query.get("keys", "").split(",") if k]
        if not keys:
            return _error(400, "Keys are required.", "ArgumentException")
        entry = emulator.lookup(scopes, keys, request.query.get("version", ""))
        if entry is None:
            return Response(204)
        return _json(200, {"scope": entry.ref, "cacheKey": entry.key,
                           "cacheVersion": entry.version, "creationTime": iso_ms(entry.created_at),
                           "archiveLocation": emulator.v1_download_url(entry)})
    if rest == "caches" and request.method == "POST":
        try:
            body = json.loads(request.body)
            key, version = str(body["key"]), str(body["version"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "Invalid request body.", "ArgumentException")
        if scopes.writable is None:
            return _error(403, "The token cannot write to any scope.", "AccessDeniedException")
        if any(e.key == key and e.version == version and e.ref == scopes.writable
               for e in repo.entries):
            return _error(409, f"Cache already exists. Scope: {scopes.writable}, Key: {key}, "
                               f"Version: {version}", "ArtifactCacheItemAlreadyExistsException")
        now = emulator.clock()
        entry = Entry(emulator.allocate_id(), key, version, scopes.writable, now, now, "v1")
        repo.entries.append(entry)
        return _json(201, {"cacheId": entry.id})
    match = re.fullmatch(r"caches/(\d+)", rest)
    if match is None:
        return _error(404, "Not found.", "NotFoundException")
    entry = next((e for e in repo.entries if e.id == int(match.group(1)) and not e.committed
                  and e.ref == scopes.writable), None)
    if entry is None:
        return _error(404, "Cache entry not found or already committed.", "NotFoundException")
    if request.method == "PATCH":
        found = re.fullmatch(r"bytes (\d+)-(\d+)/\*", request.header("content-range") or "")
        if found is None or int(found.group(2)) - int(found.group(1)) + 1 != len(request.body):
            return _error(400, "Content-Range does not match the body.", "ArgumentException")
        start = int(found.group(1))
        if len(entry.v1_data) < start + len(request.body):
            entry.v1_data.extend(b"\0" * (start + len(request.body) - len(entry.v1_data)))
        entry.v1_data[start:start + len(request.body)] = request.body
        return Response(204)
    if request.method == "POST":
        try:
            size = int(json.loads(request.body)["size"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "Invalid request body.", "ArgumentException")
        if size != len(entry.v1_data):
            return _error(400, f"Size {size} does not match the {len(entry.v1_data)} bytes "
                               "uploaded.", "ArgumentException")
        entry.blob_name = f"entry-{entry.id:08d}"
        emulator.store_blob(entry.blob_name, bytes(entry.v1_data), emulator.clock())
        entry.v1_data = bytearray()
        entry.size = size
        entry.committed = True
        return Response(204)
    return _error(405, "Method not allowed.", "NotSupportedException")


def _download(emulator: GitHubEmulator, request: Request, entry_id: str) -> Response:
    if not emulator.check_v1_download(entry_id, request):
        return Response(403)
    entry = next((e for repo in emulator.repos.values() for e in repo.committed()
                  if e.id == int(entry_id)), None)
    if entry is None:
        return Response(404)
    data = emulator.entry_bytes(entry)
    wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", request.header("range") or "")
    if wanted:
        start = int(wanted.group(1))
        if start >= len(data):
            return Response(416, [("Content-Range", f"bytes */{len(data)}")])
        end = min(int(wanted.group(2)) if wanted.group(2) else len(data) - 1, len(data) - 1)
        return Response(206, [("Accept-Ranges", "bytes"),
                              ("Content-Range", f"bytes {start}-{end}/{len(data)}")],
                        data[start:end + 1])
    return Response(200, [("Accept-Ranges", "bytes")], data)
