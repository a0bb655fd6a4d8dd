"""The Workspace: per-backend settings, credentials and sessions, and the stores opened from them.

The CLI, the TUI, the tests and the benchmarks all open stores here: one object turns locations
into stores (:meth:`Workspace.open`), expands a registry's catalog or a folder of cache directories
into stores (:meth:`Workspace.expand`), creates destinations (:meth:`Workspace.open_destination`)
and decides what is read-only (the ``read_only`` flags of the config, globally, per source and per
registry, and ``--read-only``). Read-only stores refuse every write themselves, so every front end
and operation obeys it. Close it once (``async with`` or :meth:`aclose`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from cachetui import startup
from cachetui.config import Config
from cachetui.errors import CachetuiError, ReadOnlySource
from cachetui.locations.location import Location
from cachetui.locations.openers import OpenOptions, opener_for
from cachetui.locations.parse import parse_location
from cachetui.store.base import Store
from cachetui.store.discovery import discover, is_layout

if TYPE_CHECKING:
    from cachetui.store.registry.session import RegistrySession
    from cachetui.store.registry.settings import RegistrySettings

DISCOVER_DEPTH = 4
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SourceRequest:
    """A source the user asked for (an argument or a config entry), with its display settings."""

    text: str
    accent: str | None = None
    read_only: bool = False
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """One store to read, and the tags to read (``None`` = every tag)."""

    store: Store
    tags: list[str] | None
    location: Location


@dataclass(slots=True)
class Expansion:
    """The stores one location names, and what could not be looked at (never fatal)."""

    targets: list[Target] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    """Folders discovery could not list, with the reason."""
    searched: Path | None = None
    """The folder searched for cache directories, when one was."""
    errors: list[str] = field(default_factory=list)
    """Entries that could not be opened (a catalog name that is no valid repository name)."""

    @property
    def problems(self) -> list[str]:
        """One line per folder that could not be read or entry that could not be opened, and
        one if nothing was found."""
        lines = [f"{path}: cannot read folder: {reason}" for path, reason in self.unreadable]
        lines += self.errors
        if self.searched is not None and not self.targets:
            lines.append(f"{self.searched}: no cache directories found")
        return lines


class Workspace:
    """Owns the config, the registry session (opened on first use) and read-only rules."""

    def __init__(self, config: Config | None = None, *,
                 registry_settings: RegistrySettings | Callable[[], RegistrySettings] | None = None,
                 registry_session: RegistrySession | None = None,
                 read_only: bool = False) -> None:
        self.config = config or Config()
        self.read_only = read_only or self.config.read_only
        """Everything is read-only (``--read-only`` or ``read_only = true`` at the top)."""
        self._settings = registry_settings
        """Settings, or a function that makes them when the first registry is opened (the CLI's
        ``--password-stdin`` is read then); default: the config's."""
        self._session = registry_session
        self._owns_session = registry_session is None
        self._read_only_sources: list[Location] | None = None
        self._shared: dict[str, object] = {}
        self._shared_lock = threading.Lock()
        self._opened: list[Store] = []

    # -- sources ----------------------------------------------------------------------------
    def requests(self, texts: Sequence[str], *, use_config_sources: bool = True
                 ) -> list[SourceRequest]:
        """Command-line sources first, then the config's sources; duplicates dropped."""
        out = [SourceRequest(text) for text in texts]
        if use_config_sources:
            out += [SourceRequest(entry.source, entry.accent, entry.read_only or self.read_only,
                                  entry.label) for entry in self.config.sources]
        unique: dict[str, SourceRequest] = {}
        for request in out:
            unique.setdefault(request.text, request)
        return list(unique.values())

    # -- read-only --------------------------------------------------------------------------
    def _configured_read_only(self) -> list[Location]:
        if self._read_only_sources is None:
            found = []
            for entry in self.config.sources:
                if entry.read_only:
                    try:
                        found.append(parse_location(entry.source))
                    except CachetuiError:
                        continue
            self._read_only_sources = found
        return self._read_only_sources

    def read_only_reason(self, location: Location) -> str | None:
        """Why writing to ``location`` is not allowed, or ``None`` when it is."""
        if self.read_only:
            return "read-only mode" if not self.config.read_only else \
                "read_only = true in the config"
        host = location.registry_host
        if host is not None and self.config.registry(host).read_only:
            return f'read_only = true for [registries."{host}"] in the config'
        for source in self._configured_read_only():
            if _covers(source, location):
                return f"read_only = true for source {source.text!r} in the config"
        return None

    def is_read_only(self, location: Location) -> bool:
        return self.read_only_reason(location) is not None

    # -- sessions ---------------------------------------------------------------------------
    def registry_session(self) -> RegistrySession:
        """The one registry session (HTTP pool, tokens, per-host limits), created on first use."""
        if self._session is None:
            # ~130 ms of imports the first time in a process (then nothing to pause or freeze:
            # a later freeze would keep a long-running UI's objects of the moment forever)
            first = "cachetui.store.registry.session" not in sys.modules
            with startup.loading() if first else contextlib.nullcontext():
                from cachetui.store.registry.session import RegistrySession
                from cachetui.store.registry.settings import RegistrySettings

            settings = self._settings() if callable(self._settings) else self._settings
            self._session = RegistrySession(settings or RegistrySettings.from_config(self.config))
        return self._session

    def shared(self, key: str, make: Callable[[], T]) -> T:
        """One object per ``key`` for the whole run, made on first use, closed with the workspace
        (for backends' clients: see :mod:`cachetui.locations.openers`)."""
        with self._shared_lock:  # made once, also when a thread prepares it (openers.prepare)
            if key not in self._shared:
                self._shared[key] = make()
            return self._shared[key]  # type: ignore[return-value]

    # -- opening ----------------------------------------------------------------------------
    def open(self, location: Location, *, listed: bool = False) -> Store:
        """The store ``location`` names (read-only where the config or the flags say so)."""
        options = OpenOptions(listed=listed, read_only=self.is_read_only(location))
        return self._keep(opener_for(location)(self, location, options))

    def open_destination(self, location: Location) -> Store:
        """A store to write to; a directory that does not exist yet is created on first write.

        Refuses a read-only destination up front (the store would refuse each write anyway).
        """
        reason = self.read_only_reason(location)
        if reason is not None:
            raise ReadOnlySource(f"not written: {reason}", where=location.display)
        return self._keep(opener_for(location)(self, location, OpenOptions(create=True)))

    def _keep(self, store: Store) -> Store:
        """Every store opened here is closed with the workspace (those with clients of their
        own, like gha's, release them; for the others it costs nothing)."""
        self._opened.append(store)
        return store

    async def expand(self, location: Location, *, discover_depth: int = DISCOVER_DEPTH
                     ) -> Expansion:
        """The stores a source names: a registry's catalog, the cache directories under a folder
        (down to ``discover_depth``; 0 takes the folder as it is), or the one store named."""
        reference = location.reference
        tags = [reference] if reference else None
        if location.kind == "registry-host":
            return await self._catalog(location)
        if location.kind == "local":
            assert location.path is not None
            path = location.path
            if discover_depth > 0 and tags is None and not is_layout(path):
                return await asyncio.to_thread(self._discover, location, discover_depth)
        return Expansion([Target(self.open(location), tags, location)])

    def _discover(self, location: Location, depth: int) -> Expansion:
        assert location.path is not None
        found = discover(location.path, max_depth=depth)
        out = Expansion(unreadable=found.unreadable, searched=location.path)
        for path in found.layouts:
            child = Location("local", str(path), path=path)
            out.targets.append(Target(self.open(child), None, child))
        return out

    async def _catalog(self, location: Location) -> Expansion:
        from cachetui.oci.reference import parse_reference

        assert location.host is not None and location.api_host is not None
        names = await self.registry_session().catalog(location.api_host)
        out = Expansion()
        for name in names:
            try:  # a name a registry lists may be no valid name: that repository's error
                ref = parse_reference(f"{location.host}/{name}", default_tag=False)
            except CachetuiError as exc:
                out.errors.append(str(exc))
                continue
            child = Location("registry", f"{location.host}/{name}", ref=ref)
            out.targets.append(Target(self.open(child, listed=True), None, child))
        return out

    # -- lifetime ---------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the sessions this workspace opened."""
        session, self._session = self._session, None
        for store in self._opened:
            await store.aclose()
        self._opened = []
        shared, self._shared = list(self._shared.values()), {}
        for item in shared:
            closer = getattr(item, "aclose", None)
            if closer is not None:
                await closer()
        if session is not None and self._owns_session:
            await session.aclose()

    async def __aenter__(self) -> Workspace:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


def _covers(source: Location, location: Location) -> bool:
    """``location`` is ``source`` or lies inside it (a folder's directory, a host's repository)."""
    if source.id == location.id:
        return True
    if source.kind == "registry-host":
        return location.api_host == source.api_host
    if source.kind == "local" and location.kind == "local":
        assert source.path is not None and location.path is not None
        root = os.path.abspath(os.path.expanduser(source.path))
        return os.path.abspath(os.path.expanduser(location.path)).startswith(root + os.sep)
    return False
