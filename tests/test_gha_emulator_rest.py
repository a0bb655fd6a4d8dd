"""The emulator's REST side behaves as GitHub documents it: pagination, filters, sorting,
deletes, token scopes and both kinds of rate limit."""

from __future__ import annotations

import httpx

from tests.gha_emulator.emulator import GitHubEmulator
from tests.gha_emulator.fixture import READONLY_TOKEN, REPOSITORY, REST_TOKEN, load_dump

BASE = f"/repos/{REPOSITORY}/actions"


def _get(emulator: GitHubEmulator, path: str, token: str = REST_TOKEN,
         method: str = "GET") -> httpx.Response:
    return httpx.request(method, emulator.url + path, headers={
        "Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"})


def test_pages_of_at_most_100_with_link_headers(gha_emulator: GitHubEmulator) -> None:
    for i in range(250):
        gha_emulator.add_entry(REPOSITORY, f"k-{i:03d}", "v", "refs/heads/main", b"x" * i)
    first = _get(gha_emulator, f"{BASE}/caches?per_page=500")
    assert first.json()["total_count"] == 250
    assert len(first.json()["actions_caches"]) == 100
    assert 'rel="next"' in first.headers["link"] and "page=2" in first.headers["link"]
    third = _get(gha_emulator, f"{BASE}/caches?per_page=100&page=3")
    assert len(third.json()["actions_caches"]) == 50
    assert 'rel="next"' not in third.headers["link"]
    default = _get(gha_emulator, f"{BASE}/caches")
    assert len(default.json()["actions_caches"]) == 30


def test_filters_and_sorting(gha_emulator: GitHubEmulator) -> None:
    load_dump(gha_emulator, "v2-two-scopes")
    pr = _get(gha_emulator, f"{BASE}/caches?ref=refs/pull/7/merge&per_page=100").json()
    assert {c["ref"] for c in pr["actions_caches"]} == {"refs/pull/7/merge"}
    index = _get(gha_emulator, f"{BASE}/caches?key=index-app-1-&per_page=100").json()
    assert index["total_count"] == 3
    by_size = _get(gha_emulator, f"{BASE}/caches?sort=size_in_bytes&direction=asc").json()
    sizes = [c["size_in_bytes"] for c in by_size["actions_caches"]]
    assert sizes == sorted(sizes)
    assert _get(gha_emulator, f"{BASE}/caches?sort=name").status_code == 422


def test_usage_and_deletes(gha_emulator: GitHubEmulator) -> None:
    load_dump(gha_emulator, "v2-generations")
    usage = _get(gha_emulator, f"{BASE}/cache/usage").json()
    assert usage == {"full_name": REPOSITORY, "active_caches_size_in_bytes": 818100,
                     "active_caches_count": 9}
    gone = _get(gha_emulator, f"{BASE}/caches?key=index-app-1-f921bd05%231&ref=refs/heads/main",
                method="DELETE")
    assert gone.status_code == 200
    assert [c["id"] for c in gone.json()["actions_caches"]] == [4]
    assert _get(gha_emulator, f"{BASE}/caches/8", method="DELETE").status_code == 204
    assert _get(gha_emulator, f"{BASE}/caches/8", method="DELETE").status_code == 404
    assert _get(gha_emulator, f"{BASE}/cache/usage").json()["active_caches_count"] == 7


def test_scopes_are_enforced_and_named(gha_emulator: GitHubEmulator) -> None:
    load_dump(gha_emulator, "v2-min")
    assert _get(gha_emulator, f"{BASE}/caches", READONLY_TOKEN).status_code == 200
    refused = _get(gha_emulator, f"{BASE}/caches/1", READONLY_TOKEN, method="DELETE")
    assert refused.status_code == 403
    assert refused.headers["x-accepted-oauth-scopes"] == "repo"
    assert refused.headers["x-oauth-scopes"] == "actions:read"
    assert _get(gha_emulator, f"{BASE}/caches", "ghp_wrong").status_code == 401


def test_primary_and_secondary_rate_limits(gha_emulator: GitHubEmulator) -> None:
    gha_emulator.add_rest_token("ghp_small", ("repo",), limit=2)
    assert _get(gha_emulator, f"{BASE}/caches", "ghp_small").headers["x-ratelimit-remaining"] == "1"
    assert _get(gha_emulator, f"{BASE}/caches", "ghp_small").headers["x-ratelimit-remaining"] == "0"
    exhausted = _get(gha_emulator, f"{BASE}/caches", "ghp_small")
    assert exhausted.status_code == 403
    assert exhausted.headers["x-ratelimit-remaining"] == "0"
    assert int(exhausted.headers["x-ratelimit-reset"]) > 0
    gha_emulator.secondary_limit(retry_after=7)
    limited = _get(gha_emulator, f"{BASE}/caches")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert _get(gha_emulator, f"{BASE}/caches").status_code == 200


async def test_client_refuses_an_endless_answer(gha_emulator: GitHubEmulator) -> None:
    import pytest

    from cachetui.store.gha.credentials import Secret
    from cachetui.store.gha.errors import GitHubError
    from cachetui.store.gha.rest import MAX_BODY, GitHubRest

    gha_emulator.fail(lambda r: r.path.endswith("/actions/caches"), 200,
                      body=b"[" + b" " * (MAX_BODY + 10) + b"]")
    rest = GitHubRest(gha_emulator.url, REPOSITORY, Secret(REST_TOKEN, "test"))
    try:
        with pytest.raises(GitHubError, match="over"):
            await rest.list_entries()
        assert len(await rest.list_entries()) == 0
    finally:
        await rest.aclose()
