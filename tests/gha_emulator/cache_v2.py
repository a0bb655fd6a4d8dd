"""The v2 cache service: Twirp JSON at ``{ACTIONS_RESULTS_URL}twirp/github.actions.results.api.v1.
CacheService/<Method>``, with bytes through signed blob URLs."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from tests.gha_emulator.http import Request, Response
from tests.gha_emulator.state import Entry

if TYPE_CHECKING:
    from tests.gha_emulator.emulator import GitHubEmulator

PREFIX = "/twirp/github.actions.results.api.v1.CacheService/"

TWIRP_STATUS = {"invalid_argument": 400, "unauthenticated": 401, "permission_denied": 403,
                "not_found": 404, "already_exists": 409, "bad_route": 404}


def _json(payload: object) -> Response:
    return Response(200, [("Content-Type", "application/json")], json.dumps(payload).encode())


def twirp_error(code: str, message: str) -> Response:
    return Response(TWIRP_STATUS[code], [("Content-Type", "application/json")],
                    json.dumps({"code": code, "msg": message}).encode())


def handle(emulator: GitHubEmulator, request: Request) -> Response:
    method = request.path[len(PREFIX):]
    if request.method != "POST":
        return twirp_error("bad_route", f"unsupported method {request.method}")
    scopes = emulator.runtime_scopes(request)
    if scopes is None:
        return twirp_error("unauthenticated", "invalid or expired runtime token")
    try:
        body = json.loads(request.body)
        key = str(body["key"])
        version = str(body["version"])
    except (ValueError, KeyError, TypeError):
        return twirp_error("invalid_argument", "key and version are required")
    repo = emulator.repository(emulator.runtime_repo)
    if method == "GetCacheEntryDownloadURL":
        keys = [key] + [str(k) for k in body.get("restore_keys") or [] if str(k) != key]
        entry = emulator.lookup(scopes, keys, version)
        if entry is None:
            return _json({"ok": False, "signed_download_url": "", "matched_key": ""})
        return _json({"ok": True, "signed_download_url": emulator.sas_url(entry.blob_name, "r"),
                      "matched_key": entry.key})
    if scopes.writable is None:
        return twirp_error("permission_denied", "the token cannot write to any scope")
    if method == "CreateCacheEntry":
        if any(e.key == key and e.version == version and e.ref == scopes.writable
               for e in repo.entries):
            return twirp_error("already_exists", "cache entry with the same key, version, and "
                                                 "scope already exists")
        now = emulator.clock()
        entry = Entry(emulator.allocate_id(), key, version, scopes.writable, now, now, "v2",
                      blob_name=uuid.uuid4().hex)
        repo.entries.append(entry)
        return _json({"ok": True, "signed_upload_url": emulator.sas_url(entry.blob_name, "cw")})
    if method == "FinalizeCacheEntryUpload":
        entry = next((e for e in repo.entries if e.key == key and e.version == version
                      and e.ref == scopes.writable and not e.committed), None)
        if entry is None:
            return twirp_error("not_found", "no reserved cache entry with this key and version")
        stored = emulator.blob_size(entry.blob_name)
        try:
            size = int(body["size_bytes"])
        except (KeyError, TypeError, ValueError):
            return twirp_error("invalid_argument", "size_bytes is required")
        if stored != size:
            return twirp_error("invalid_argument", "the uploaded blob does not have size_bytes")
        entry.size = size
        entry.committed = True
        return _json({"ok": True, "entry_id": str(entry.id)})
    return twirp_error("bad_route", f"no such method {method}")
