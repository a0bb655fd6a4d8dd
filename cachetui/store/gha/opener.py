"""A :class:`GhaStore` for a parsed location: REST with a GitHub token, and the runtime cache
service when the location (or the environment) has a runtime token and a service URL."""

from __future__ import annotations

from cachetui.store.gha.credentials import Secret, github_token
from cachetui.store.gha.location import GhaLocation, parse_gha
from cachetui.store.gha.rest import GitHubRest
from cachetui.store.gha.runtime import RuntimeCache
from cachetui.store.gha.store import GhaStore
from cachetui.store.tls import TlsContexts, fresh_context


def open_gha(location: GhaLocation, *, use_gh: bool = True,
             tls: TlsContexts = fresh_context) -> GhaStore:
    """``tls`` gives its clients' TLS context (:mod:`cachetui.store.tls`)."""
    found = github_token(location.ghtoken, api_url=location.api_url, use_gh=use_gh)
    rest = GitHubRest(location.api_url, location.repository, found.token, tls=tls)
    runtime = None
    if location.runtime_token and location.cache_url:
        runtime = RuntimeCache(location.cache_url, Secret(location.runtime_token, "runtime token"),
                               location.version, tls=tls)
    return GhaStore(rest, runtime, scope=location.scope)


def open_gha_text(text: str, *, configured_api_url: str | None = None,
                  tls: TlsContexts = fresh_context) -> GhaStore:
    """``configured_api_url``: the config file's ``[github] api_url`` (GITHUB_API_URL wins)."""
    return open_gha(parse_gha(text, configured_api_url=configured_api_url), tls=tls)
