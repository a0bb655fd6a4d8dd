"""What users type for the Actions cache: buildx's ``type=gha,...`` spec (``scope``, ``url``,
``url_v2``, ``token``, ``version``, ``repository``, ``ghtoken``) or
``gha://OWNER/REPO[?scope=S[&ref=R]]`` (scope and ref name one cache, ``S@R``),
completed from the environment the runner sets, as buildx and BuildKit read it."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from cachetui.errors import InvalidInput
from cachetui.oci.specfields import split_spec_fields
from cachetui.store.gha.credentials import api_url
from cachetui.store.gha.names import is_gha as is_gha

KNOWN_ATTRS = frozenset({"type", "scope", "url", "url_v2", "token", "version", "repository",
                         "ghtoken", "timeout", "mode", "ignore-error"})
_REPO = re.compile(r"\A[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")


@dataclass(frozen=True, slots=True)
class GhaLocation:
    repository: str
    scope: str | None
    """Only this scope's caches; ``None`` for every scope."""
    ref: str | None
    api_url: str
    cache_url: str | None
    """The runtime cache service (v2: ``ACTIONS_RESULTS_URL``, v1: ``ACTIONS_CACHE_URL``)."""
    version: int
    ghtoken: str | None = field(default=None, repr=False)
    runtime_token: str | None = field(default=None, repr=False)

    @property
    def cache_name(self) -> str | None:
        """``SCOPE@REF`` when both are named: one cache, as a tag."""
        return f"{self.scope}@{self.ref}" if self.scope and self.ref else None

    @property
    def display(self) -> str:
        """For people: never a token."""
        return f"gha://{self.repository}" + (f"?scope={self.scope}" if self.scope else "")

    @property
    def can_read_contents(self) -> bool:
        return bool(self.runtime_token and self.cache_url)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "t", "true", "yes", "on")


def parse_gha(text: str, env: Mapping[str, str] | None = None, *,
              configured_api_url: str | None = None) -> GhaLocation:
    environ = os.environ if env is None else env
    attrs: dict[str, str] = {}
    repository = ""
    if text.startswith("gha://"):
        parts = urlsplit(text)
        repository = (parts.netloc + parts.path).strip("/")
        attrs.update(parse_qsl(parts.query))
        unknown = set(attrs) - {"scope", "ref"}
        if unknown:
            raise InvalidInput(f"gha:// takes only ?scope= and &ref=, not "
                               f"{', '.join(sorted(unknown))}")
    else:
        attrs.update(split_spec_fields(text))
        unknown = set(attrs) - KNOWN_ATTRS
        if unknown:
            raise InvalidInput(f"gha cache spec: unknown attribute {', '.join(sorted(unknown))}")
        repository = attrs.get("repository", "")
    repository = repository or environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        raise InvalidInput("gha cache: name the repository (gha://OWNER/REPO, repository=, or "
                           "GITHUB_REPOSITORY)")
    if not _REPO.match(repository):
        raise InvalidInput(f"gha cache: {repository!r} is not OWNER/REPO")
    version_text = attrs.get("version", "")
    if version_text and version_text not in ("1", "2"):
        raise InvalidInput(f"gha cache: version must be 1 or 2, not {version_text!r}")
    version = int(version_text) if version_text else 0
    url_v2 = attrs.get("url_v2") or (environ.get("ACTIONS_RESULTS_URL")
                                     if _truthy(environ.get("ACTIONS_CACHE_SERVICE_V2")) else None)
    url_v1 = attrs.get("url") or environ.get("ACTIONS_CACHE_URL")
    # BuildKit's getConfig: url_v2 unless version=1; then url; an old client guesses by host.
    cache_url = None
    if version != 1 and url_v2:
        cache_url, version = url_v2, 2
    elif url_v1:
        cache_url = url_v1
        if version == 0:
            version = 2 if "results-receiver.actions.githubusercontent.com" in url_v1 else 1
    scope = attrs.get("scope") or None
    return GhaLocation(repository=repository, scope=scope, ref=attrs.get("ref") or None,
                       api_url=api_url(env=environ, configured=configured_api_url),
                       cache_url=cache_url, version=version or 2,
                       ghtoken=attrs.get("ghtoken") or None,
                       runtime_token=attrs.get("token") or environ.get("ACTIONS_RUNTIME_TOKEN")
                       or None)
