"""GitHub REST: the Actions cache endpoints, token scopes and rate limits.

- ``GET /repos/{o}/{r}/actions/caches`` (``per_page`` ≤ 100, default 30; ``page``; ``key`` prefix;
  ``ref``; ``sort`` created_at | last_accessed_at (default) | size_in_bytes; ``direction``
  asc | desc (default)) → ``{"total_count", "actions_caches"}`` and a ``Link`` header.
- ``GET /repos/{o}/{r}/actions/cache/usage`` → ``{"full_name", "active_caches_size_in_bytes",
  "active_caches_count"}``.
- ``DELETE /repos/{o}/{r}/actions/caches?key=K[&ref=R]`` → 200 with the deleted caches (a list).
- ``DELETE /repos/{o}/{r}/actions/caches/{id}`` → 204.
Classic tokens carry ``X-OAuth-Scopes``; a missing scope answers 403 with
``X-Accepted-OAuth-Scopes``. Every answer has the ``x-ratelimit-*`` headers; an exhausted budget
answers 403 with ``x-ratelimit-remaining: 0``.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from tests.gha_emulator import packages
from tests.gha_emulator.http import Request, Response
from tests.gha_emulator.state import Entry

if TYPE_CHECKING:
    from tests.gha_emulator.emulator import GitHubEmulator, RestToken

DOCS = "https://docs.github.com/rest/actions/cache"
READ_SCOPES = frozenset({"repo", "public_repo", "actions:read", "actions:write"})
WRITE_SCOPES = frozenset({"repo", "actions:write"})
SORT_KEYS = {"created_at", "last_accessed_at", "size_in_bytes"}


def message(status: int, text: str, headers: list[tuple[str, str]] | None = None,
            docs: str = DOCS) -> Response:
    body = {"message": text, "documentation_url": docs, "status": str(status)}
    return Response(status, [("Content-Type", "application/json; charset=utf-8"),
                             *(headers or [])], json.dumps(body).encode())


def ok(status: int, payload: object, headers: list[tuple[str, str]]) -> Response:
    return Response(status, [("Content-Type", "application/json; charset=utf-8"), *headers],
                    json.dumps(payload).encode())


def authenticate(emulator: GitHubEmulator, request: Request) -> tuple[RestToken | None,
                                                                          Response | None]:
    """The caller's token and its rate-limit headers, or the error to answer."""
    auth = request.header("authorization") or ""
    scheme, _, value = auth.partition(" ")
    token = emulator.rest_tokens.get(value) if scheme.lower() in ("bearer", "token") else None
    if token is None:
        return None, message(401, "Bad credentials" if auth else "Requires authentication",
                             docs="https://docs.github.com/rest")
    now = int(emulator.clock().timestamp())
    if token.reset <= now:
        token.reset = now + 3600
        token.used = 0
    if token.used >= token.limit:
        return None, message(403, "API rate limit exceeded for user ID 1. If you reach out to "
                                  "GitHub Support for help, please include the request ID.",
                             rate_headers(token),
                             docs="https://docs.github.com/rest/overview/rate-limits-for-the-rest-api")
    token.used += 1
    return token, None


def rate_headers(token: RestToken) -> list[tuple[str, str]]:
    return [("x-ratelimit-limit", str(token.limit)),
            ("x-ratelimit-remaining", str(max(token.limit - token.used, 0))),
            ("x-ratelimit-reset", str(token.reset)), ("x-ratelimit-used", str(token.used)),
            ("x-ratelimit-resource", "core"),
            ("X-OAuth-Scopes", ", ".join(sorted(token.scopes))),
            ("X-GitHub-Api-Version-Selected", "2022-11-28")]


def missing_scope(headers: list[tuple[str, str]], accepted: str) -> Response:
    return message(403, "Resource not accessible by personal access token",
                   [*headers, ("X-Accepted-OAuth-Scopes", accepted)])


def handle(emulator: GitHubEmulator, request: Request) -> Response:
    token, failure = authenticate(emulator, request)
    if failure is not None:
        return failure
    assert token is not None
    headers = rate_headers(token)
    answered = packages.handle(emulator, request, token, headers)
    if answered is not None:
        return answered
    match = re.fullmatch(r"/repos/([^/]+)/([^/]+)/actions/(caches|caches/(\d+)|cache/usage)",
                         request.path)
    if match is None:
        return message(404, "Not Found", headers)
    repo = emulator.repos.get(f"{match.group(1)}/{match.group(2)}".lower())
    if repo is None:
        return message(404, "Not Found", headers)
    what = match.group(3)
    if request.method == "GET":
        if not token.scopes & READ_SCOPES:
            return missing_scope(headers, "repo")
        if what == "cache/usage":
            entries = repo.committed()
            return ok(200, {"full_name": repo.full_name,
                            "active_caches_size_in_bytes": sum(e.size for e in entries),
                            "active_caches_count": len(entries)}, headers)
        if what == "caches":
            return _list(emulator, request, repo.full_name, headers)
        return message(404, "Not Found", headers)
    if request.method == "DELETE":
        if not token.scopes & WRITE_SCOPES:
            return missing_scope(headers, "repo")
        if match.group(4):
            entry = next((e for e in repo.committed() if e.id == int(match.group(4))), None)
            if entry is None:
                return message(404, "Not Found", headers)
            emulator.delete_entry(repo, entry)
            return Response(204, headers)
        key = request.query.get("key")
        if not key:
            return message(422, "Invalid request.\n\n\"key\" wasn't supplied.", headers)
        ref = request.query.get("ref")
        doomed = [e for e in repo.committed() if e.key == key and (ref is None or e.ref == ref)]
        if not doomed:
            return message(404, "Not Found", headers)
        for entry in doomed:
            emulator.delete_entry(repo, entry)
        return ok(200, {"total_count": len(doomed),
                        "actions_caches": [e.rest_json() for e in doomed]}, headers)
    return message(404, "Not Found", headers)


def _list(emulator: GitHubEmulator, request: Request, full_name: str,
          headers: list[tuple[str, str]]) -> Response:
    query = request.query
    try:
        per_page = min(int(query.get("per_page", "30")), 100)
        page = int(query.get("page", "1"))
    except ValueError:
        return message(422, "Invalid request.", headers)
    per_page = max(per_page, 1)
    page = max(page, 1)
    sort = query.get("sort", "last_accessed_at")
    direction = query.get("direction", "desc")
    if sort not in SORT_KEYS or direction not in ("asc", "desc"):
        return message(422, "Invalid request.", headers)
    repo = emulator.repos[full_name.lower()]
    entries = [e for e in repo.committed()
               if e.key.startswith(query.get("key", "")) and
               ("ref" not in query or e.ref == query["ref"])]

    def sort_key(entry: Entry) -> tuple[float, int]:
        if sort == "size_in_bytes":
            return (entry.size, entry.id)
        moment = entry.created_at if sort == "created_at" else entry.last_accessed_at
        # GitHub's timestamps have milliseconds: order as the listed text orders
        return (int(moment.timestamp() * 1000), entry.id)

    entries.sort(key=sort_key, reverse=direction == "desc")
    chunk = entries[(page - 1) * per_page: page * per_page]
    last = max((len(entries) + per_page - 1) // per_page, 1)
    links = []
    base = f"{emulator.url}/repos/{full_name}/actions/caches"
    for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
        if (rel == "prev" and page > 1) or (rel == "next" and page < last) or \
                (rel in ("last", "first") and last > 1):
            params = {k: v for k, v in query.items() if k != "page"}
            params["page"] = str(number)
            links.append(f'<{base}?{urlencode(params)}>; rel="{rel}"')
    extra = [("Link", ", ".join(links))] if links else []
    return ok(200, {"total_count": len(entries), "actions_caches": [e.rest_json() for e in chunk]},
              headers + extra)
