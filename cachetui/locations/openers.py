"""Location kind → the function that opens its store: the one table a new backend joins.

An opener gets the workspace (as :class:`OpenContext`: the config, and sessions shared by every
store of a run) and the location, and returns a :class:`~cachetui.store.base.Store`. Openers import
their store module when called, so a command that only reads directories never loads an HTTP
stack. Kinds without an opener fail with a clear "not supported yet".

A new backend adds one function here and one entry to :data:`OPENERS`, e.g.::

    def open_s3(context: OpenContext, location: Location, options: OpenOptions) -> Store:
        from cachetui.store.s3 import S3Client, S3Store

        client = context.shared(f"s3:{location.attrs.get('endpoint_url', '')}",
                                lambda: S3Client(context.config, location))
        return S3Store(client, location, read_only=options.read_only)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from cachetui.errors import CachetuiError, InvalidInput, UnsupportedOperation
from cachetui.locations.location import Location, LocationKind
from cachetui.store.base import Store

if TYPE_CHECKING:
    import ssl

    from cachetui.config import Config
    from cachetui.store.registry.session import RegistrySession
    from cachetui.store.tls import TlsContexts, Trust

T = TypeVar("T")


class OpenContext(Protocol):
    """What an opener may use of the workspace."""

    @property
    def config(self) -> Config: ...

    def registry_session(self) -> RegistrySession:
        """The run's one registry session (HTTP pool, tokens, per-host limits)."""
        ...

    def shared(self, key: str, make: Callable[[], T]) -> T:
        """One object per ``key`` for the whole run (a client, a session), made on first use and
        closed (``aclose``) with the workspace."""
        ...


@dataclass(frozen=True, slots=True)
class OpenOptions:
    listed: bool = False
    """The name came from a listing (a catalog): an empty repository is no error."""
    create: bool = False
    """A destination: create the cache (directory) on the first write."""
    read_only: bool = False
    """The store refuses every write (``read_only`` in the config, ``--read-only``)."""


Opener = Callable[[OpenContext, Location, OpenOptions], Store]


def open_local(context: OpenContext, location: Location, options: OpenOptions) -> Store:
    from cachetui.store.layout import LayoutStore

    assert location.path is not None
    return LayoutStore(location.path, create=options.create, read_only=options.read_only)


def open_registry(context: OpenContext, location: Location, options: OpenOptions) -> Store:
    """A registry repository; on GHCR and Docker Hub refused deletes go through their APIs."""
    from cachetui.store.vendor.opener import with_vendor_deletes

    assert location.ref is not None
    store = context.registry_session().repository(location.ref, listed=options.listed,
                                                  read_only=options.read_only)
    return with_vendor_deletes(store, location.ref.registry, location.ref.repository,
                               configured_api_url=context.config.github.api_url)


def tls_contexts(context: OpenContext) -> TlsContexts:
    """One TLS context per trust for the whole run (the first made parses a CA bundle, ~20 ms;
    :func:`prepare` makes it ahead): what the s3, azblob and gha clients verify with."""

    def kept(trust: Trust) -> ssl.SSLContext:
        return context.shared(trust.key, trust.context)

    return kept


def open_object_store(context: OpenContext, location: Location, options: OpenOptions) -> Store:
    """s3 and azblob (their settings come from the spec, the environment and the SDK chain)."""
    from cachetui.store.objspec import parse_object_location

    store = parse_object_location(location.spec or location.text).open(tls_contexts(context))
    store.read_only = options.read_only
    return store


def open_gha(context: OpenContext, location: Location, options: OpenOptions) -> Store:
    from cachetui.store.gha.opener import open_gha_text

    store = open_gha_text(location.spec or location.text,
                          configured_api_url=context.config.github.api_url,
                          tls=tls_contexts(context))
    store.read_only = options.read_only
    return store


def open_registry_host(context: OpenContext, location: Location, options: OpenOptions) -> Store:
    raise InvalidInput(f"{location.text} is a registry host; name a repository (HOST/REPO)")


OPENERS: dict[LocationKind, Opener] = {
    "local": open_local,
    "registry": open_registry,
    "inline": open_registry,  # an image with inline cache is read from its repository
    "registry-host": open_registry_host,
    "gha": open_gha,
    "s3": open_object_store,
    "azblob": open_object_store,
}
"""Add ``"s3": open_s3`` (and the function) here when a backend lands."""


Preparer = Callable[[OpenContext, Location], None]
"""Makes, blocking, what the kind's opener (or its first request) would make first: for a thread."""


def prepare_registry(context: OpenContext, location: Location) -> None:
    """The TLS context of the registry's first request (``RegistrySession.prepare``)."""
    if location.api_host is not None:
        context.registry_session().prepare(location.api_host)


def prepare_object_store(context: OpenContext, location: Location) -> None:
    """The TLS context the s3 or azblob client is made with."""
    from cachetui.store.objspec import parse_object_location

    trust = parse_object_location(location.spec or location.text).trust
    context.shared(trust.key, trust.context)


def prepare_gha(context: OpenContext, location: Location) -> None:
    """The TLS context the REST and cache-service clients are made with, and the ``gh auth
    token`` lookup the opening would run (a subprocess), when no other token is there."""
    from cachetui.store.gha.credentials import github_token, look_up_gh_ahead
    from cachetui.store.gha.location import parse_gha
    from cachetui.store.tls import DEFAULT_TRUST

    context.shared(DEFAULT_TRUST.key, DEFAULT_TRUST.context)
    parsed = parse_gha(location.spec or location.text,
                       configured_api_url=context.config.github.api_url)
    if github_token(parsed.ghtoken, api_url=parsed.api_url, use_gh=False).token is None:
        look_up_gh_ahead(parsed.api_url)


PREPARERS: dict[LocationKind, Preparer] = {
    "registry": prepare_registry,
    "inline": prepare_registry,
    "registry-host": prepare_registry,
    "gha": prepare_gha,
    "s3": prepare_object_store,
    "azblob": prepare_object_store,
}
"""Kinds whose opening makes something slow besides imports (a local directory: nothing)."""


def prepare(context: OpenContext, location: Location) -> None:
    """Make now what opening ``location`` would make first (TLS contexts, ~20-40 ms of CPU),
    kept for the open to find; the TUI runs this in a thread so its event loop never does.

    Its store modules should be imported already, and a registry's session made (on the
    loop). An error is left to the open, which meets it again and reports it on its source (a
    bad spec, an unreadable CA file, a module that cannot be imported).
    """
    preparer = PREPARERS.get(location.kind)
    if preparer is None:
        return
    try:
        preparer(context, location)
    except (CachetuiError, OSError, ImportError):
        return


def opener_for(location: Location) -> Opener:
    opener = OPENERS.get(location.kind)
    if opener is None:
        raise UnsupportedOperation(f"type={location.kind} caches are not supported yet "
                                   f"({location.display})")
    return opener
