"""Where a GitHub token comes from: the location's ``ghtoken``, ``GITHUB_TOKEN``, ``GH_TOKEN``, or
``gh auth token``; and the wrapper that keeps it out of every message and repr."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

DEFAULT_API_URL = "https://api.github.com"


class Secret:
    """A token that never prints: ``str``/``repr`` show only where it came from."""

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self._source = source

    def reveal(self) -> str:
        return self._value

    @property
    def source(self) -> str:
        return self._source

    def __repr__(self) -> str:
        return f"<token from {self._source}>"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class TokenLookup:
    token: Secret | None
    tried: tuple[str, ...]


def github_token(explicit: str | None = None, *, api_url: str = DEFAULT_API_URL,
                 env: Mapping[str, str] | None = None, use_gh: bool = True) -> TokenLookup:
    """The first token found, in the order buildx users keep them."""
    environ = os.environ if env is None else env
    tried = ["ghtoken=", "GITHUB_TOKEN", "GH_TOKEN", "gh auth token"]
    if explicit:
        return TokenLookup(Secret(explicit, "ghtoken="), tuple(tried))
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        value = environ.get(name, "").strip()
        if value:
            return TokenLookup(Secret(value, name), tuple(tried))
    if use_gh:
        found = _gh_auth_token(api_url)
        if found:
            return TokenLookup(Secret(found, "gh auth token"), tuple(tried))
    return TokenLookup(None, tuple(tried))


_AHEAD_SECONDS: Final = 30.0
"""How long a lookup made ahead (:func:`look_up_gh_ahead`) stands in for one made now."""
_ahead: dict[str, tuple[float, str | None]] = {}
_ahead_lock = threading.Lock()


def look_up_gh_ahead(api_url: str) -> None:
    """Run ``gh auth token`` now, in the caller's thread, for the next lookup of this API to
    take (once, within 30 s): the TUI opens a gha source on its event loop, where a subprocess
    of up to 10 s would freeze it. Taken once, so a later opening asks ``gh`` again and sees a
    login made meanwhile."""
    token = _run_gh(api_url)
    with _ahead_lock:
        _ahead[api_url] = (time.monotonic(), token)


def _gh_auth_token(api_url: str) -> str | None:
    with _ahead_lock:
        found = _ahead.pop(api_url, None)
    if found is not None and time.monotonic() - found[0] < _AHEAD_SECONDS:
        return found[1]
    return _run_gh(api_url)


def _run_gh(api_url: str) -> str | None:
    gh = shutil.which("gh")
    if gh is None:
        return None
    host = urlsplit(api_url).hostname or "github.com"
    if host == "api.github.com":
        host = "github.com"
    try:
        done = subprocess.run([gh, "auth", "token", "--hostname", host], capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    token = done.stdout.strip()
    return token if done.returncode == 0 and token and "\n" not in token else None


def api_url(explicit: str | None = None, env: Mapping[str, str] | None = None, *,
            configured: str | None = None) -> str:
    """``GITHUB_API_URL`` (set by the runner; GHES: ``https://HOST/api/v3``), else the config
    file's ``[github] api_url`` (``configured``), else api.github.com: the runner's value wins, so
    a workflow on github.com is never sent to a GHES host named in a shared config."""
    environ = os.environ if env is None else env
    return (explicit or environ.get("GITHUB_API_URL") or configured or DEFAULT_API_URL).rstrip("/")
