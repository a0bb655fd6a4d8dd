"""GitHub Packages (container package versions) and Docker Hub's tag API, for the vendor deletes.

GitHub: ``GET /{orgs|users}/{owner}/packages/container/{name}/versions`` (``per_page``, ``page``;
``read:packages``) and ``DELETE .../versions/{id}`` (``read:packages`` and ``delete:packages``).
A version's ``name`` is the manifest digest, its tags in ``metadata.container.tags``.
Docker Hub, as Docker's API reference (docker/docs ``content/reference/api/hub/latest.yaml``)
documents it: ``POST /v2/auth/token`` (``identifier``, ``secret`` → ``access_token``);
``GET /v2/namespaces/{ns}/repositories/{repo}/tags`` (``page``, ``page_size`` default 10, at most
100, absolute ``next``); ``GET``/``HEAD`` (never ``DELETE``: 405) on ``.../tags/{tag}``; rate limits
with ``X-RateLimit-*`` and 429 + ``Retry-After``. The reference documents no delete; the one Docker
publishes is its Hub CLI's (docker/hub-tool ``pkg/hub/tags.go``):
``DELETE /v2/repositories/{ns}/{repo}/tags/{tag}/``.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote

from tests.gha_emulator.http import Request, Response

if TYPE_CHECKING:
    from tests.gha_emulator.emulator import GitHubEmulator, RestToken


@dataclass(slots=True)
class PackagesState:
    versions: dict[tuple[str, str], list[dict[str, object]]] = field(default_factory=dict)
    """(owner, package name) → version objects, newest first."""
    owner_kind: dict[str, str] = field(default_factory=dict)
    """owner → ``orgs`` or ``users``."""
    hub_users: dict[str, str] = field(default_factory=dict)
    hub_tokens: set[str] = field(default_factory=set)
    hub_tags: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    """(namespace, repository) → tag → digest."""
    next_id: int = 1000

    def add_version(self, owner: str, package: str, digest: str, tags: list[str], *,
                    kind: str = "orgs") -> int:
        self.owner_kind[owner] = kind
        version_id = self.next_id
        self.next_id += 1
        self.versions.setdefault((owner, package), []).insert(0, {
            "id": version_id, "name": digest,
            "url": f"https://api.github.com/{kind}/{owner}/packages/container/{package}/versions/"
                   f"{version_id}",
            "package_html_url": f"https://github.com/{owner}/packages/container/package/{package}",
            "created_at": "2026-11-30T03:50:00Z", "updated_at": "2026-11-30T03:50:00Z",
            "html_url": f"https://github.com/{owner}/packages/container/{package}/{version_id}",
            "metadata": {"package_type": "container", "container": {"tags": list(tags)}},
        })
        return version_id


def _json(status: int, payload: object, headers: list[tuple[str, str]]) -> Response:
    return Response(status, [("Content-Type", "application/json; charset=utf-8"), *headers],
                    json.dumps(payload).encode())


def handle(emulator: GitHubEmulator, request: Request, token: RestToken,
           headers: list[tuple[str, str]]) -> Response | None:
    from tests.gha_emulator.rest import message, missing_scope

    match = re.fullmatch(r"/(orgs|users)/([^/]+)/packages/container/([^/]+)/versions(?:/(\d+))?",
                         request.path)
    if match is None:
        return None
    kind, owner, package = match.group(1), match.group(2), unquote(match.group(3))
    state = emulator.packages
    versions = state.versions.get((owner, package))
    if "read:packages" not in token.scopes:
        return missing_scope(headers, "read:packages")
    if versions is None or state.owner_kind.get(owner) != kind:
        return message(404, "Package not found.", headers)
    if request.method == "GET" and match.group(4) is None:
        per_page = min(int(request.query.get("per_page", "30")), 100)
        page = int(request.query.get("page", "1"))
        return _json(200, versions[(page - 1) * per_page: page * per_page], headers)
    if request.method == "DELETE" and match.group(4) is not None:
        if "delete:packages" not in token.scopes:
            return missing_scope(headers, "delete:packages, read:packages")
        found = next((v for v in versions if v["id"] == int(match.group(4))), None)
        if found is None:
            return message(404, "Package version not found.", headers)
        versions.remove(found)
        return Response(204, headers)
    return message(404, "Not Found", headers)


def handle_hub(emulator: GitHubEmulator, request: Request) -> Response | None:
    """Docker Hub's API under ``/v2/auth/token`` and ``/v2/namespaces/``; ``None`` otherwise."""
    state = emulator.packages
    limits = [("X-RateLimit-Limit", "180"), ("X-RateLimit-Remaining", "179"),
              ("X-RateLimit-Reset", "1796000000")]
    if request.path == "/v2/auth/token" and request.method == "POST":
        try:
            body = json.loads(request.body)
            user, secret = str(body["identifier"]), str(body["secret"])
        except (ValueError, KeyError, TypeError):
            return _json(400, {"errinfo": None, "message": "bad request"}, limits)
        if state.hub_users.get(user) != secret:
            return _json(401, {"errinfo": None, "message": "unauthorized"}, limits)
        access = "hub-jwt-" + secrets.token_hex(8)
        state.hub_tokens.add(access)
        return _json(200, {"access_token": access}, limits)
    listed = re.fullmatch(r"/v2/namespaces/([^/]+)/repositories/([^/]+)/tags(?:/([^/]+))?",
                          request.path)
    deleted = re.fullmatch(r"/v2/repositories/([^/]+)/([^/]+)/tags/([^/]+)/", request.path)
    match = listed or deleted
    if match is None:
        return None
    auth = request.header("authorization") or ""
    if not auth.startswith("Bearer ") or auth[7:] not in state.hub_tokens:
        return _json(401, {"errinfo": None, "message": "unauthorized"}, limits)
    tags = state.hub_tags.get((match.group(1), match.group(2)))
    if tags is None:
        return _json(404, {"errinfo": None, "message": "not found"}, limits)
    tag = unquote(match.group(3)) if match.group(3) is not None else None
    if deleted is not None:
        if request.method != "DELETE":
            return _json(405, {"errinfo": None, "message": "method not allowed"}, limits)
        if tags.pop(str(tag), None) is None:
            return _json(404, {"errinfo": None, "message": "not found"}, limits)
        return Response(204, limits)
    if request.method in ("GET", "HEAD") and tag is not None:
        if tag not in tags:
            return _json(404, {"errinfo": None, "message": "not found"}, limits)
        return _json(200, _tag(tag, tags[tag]), limits)
    if request.method == "GET":
        return _json(200, _tags_page(emulator, request, sorted(tags.items())), limits)
    return _json(405, {"errinfo": None, "message": "method not allowed"}, limits)


def _tag(name: str, digest: str) -> dict[str, object]:
    return {"name": name, "digest": digest, "tag_status": "active", "v2": True}


def _tags_page(emulator: GitHubEmulator, request: Request,
               tags: list[tuple[str, str]]) -> dict[str, object]:
    """One page of ListRepositoryTags: ``page_size`` defaults to 10 and is at most 100."""
    size = max(1, min(int(request.query.get("page_size", "10")), 100))
    page = max(1, int(request.query.get("page", "1")))
    chunk = tags[(page - 1) * size: page * size]
    more = page * size < len(tags)
    return {"count": len(tags),
            "next": f"{emulator.url}{request.path}?page={page + 1}&page_size={size}" if more
            else None,
            "previous": None if page == 1
            else f"{emulator.url}{request.path}?page={page - 1}&page_size={size}",
            "results": [_tag(name, digest) for name, digest in chunk]}
