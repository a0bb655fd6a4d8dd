"""Errors from GitHub's APIs, worded for the person who has to fix the token or wait."""

from __future__ import annotations

from cachetui.errors import AuthError, CachetuiError


class GitHubError(CachetuiError):
    """GitHub answered with an error the caller cannot retry away."""


class GitHubAuthError(AuthError):
    """No token, a rejected token, or a token without the scope an endpoint needs."""

    def __init__(self, message: str, *, where: str | None = None, scope: str | None = None) -> None:
        super().__init__(message, where=where, status=401)
        self.scope = scope


class GitHubRateLimited(GitHubError):
    """The primary rate limit is spent, or a secondary limit asks for a longer wait."""

    def __init__(self, message: str, *, where: str | None = None,
                 wait_seconds: float | None = None) -> None:
        super().__init__(message, where=where)
        self.wait_seconds = wait_seconds
