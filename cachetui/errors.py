"""One exception hierarchy whose messages a user can act on.

Every error that can reach a user is a :class:`CachetuiError`. Its ``str()`` is one line that names
the thing (file, blob, registry) and the problem. The CLI prints it and exits non-zero; the TUI shows
it in place. Secrets never go into messages.
"""

from __future__ import annotations

from cachetui.redact import redact


class CachetuiError(Exception):
    """Base of every error cachetui reports to the user.

    Its text is redacted (:mod:`cachetui.redact`) when read: a registry may echo a credential in
    its error body, and that must not reach a terminal, a log or ``--json`` output.
    """

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = redact(message)
        self.where = redact(where) if where else where
        super().__init__(f"{where}: {message}" if where else message)

    def __str__(self) -> str:
        return redact(super().__str__())


class InvalidInput(CachetuiError):
    """User input (a reference, a spec, a flag value) cannot be understood."""


class UsageError(InvalidInput):
    """A command-line option's value is wrong (``--older-than banana``): exit 2, as argparse's."""


class InvalidDigest(InvalidInput):
    """A digest string is not ``sha256:`` + 64 lowercase hex (or ``sha512:`` + 128)."""


class FormatError(CachetuiError):
    """Bytes do not hold what they should: bad JSON, wrong types, bad indices, loops."""


class TooLarge(FormatError):
    """A manifest or config is larger than the limit we are willing to parse."""


class DigestMismatch(CachetuiError):
    """Content does not match its digest or its declared size."""


class NotFound(CachetuiError):
    """A tag, manifest, blob, directory or repository does not exist."""


class LayoutError(CachetuiError):
    """A local cache directory is unusable (missing index.json, escaping paths, ...)."""


class BlobsMissing(LayoutError):
    """A manifest was about to be tagged but blobs below it are gone (a concurrent gc took them):
    the writer puts them back and tags again, so no tag ever names a missing blob."""

    def __init__(self, digests: list[str], *, where: str | None = None) -> None:
        self.digests = digests
        super().__init__(f"{len(digests)} blob(s) below the manifest went missing while copying "
                         f"(a concurrent gc?), first {digests[0][7:19] if digests else '-'}",
                         where=where)


class UnsupportedOperation(CachetuiError):
    """The store cannot do this (read-only store, registry refuses deletes, ...)."""


class ReadOnlySource(CachetuiError):
    """A write to a store that is read-only (``read_only`` in the config, ``--read-only``)."""


class RegistryError(CachetuiError):
    """A registry answered with an error; ``code`` is the distribution error code if any."""

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.retry_after = retry_after
        """Seconds the registry asked to wait (``Retry-After``), if it did."""
        super().__init__(message, where=where)


class AuthError(RegistryError):
    """Authentication failed or was refused."""


class NetworkError(RegistryError):
    """The registry could not be reached, or the connection broke and retries ran out."""


def is_transient(error: RegistryError) -> bool:
    """Worth trying again later: a broken connection, 429, or a 5xx answer."""
    return isinstance(error, NetworkError) or (
        error.status is not None and (error.status == 429 or 500 <= error.status <= 599))


class NoSpace(CachetuiError):
    """Not enough free disk space to start (or go on with) an operation."""


class Cancelled(CachetuiError):
    """A long operation was cancelled by the user."""
