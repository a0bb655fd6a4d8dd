"""Turn source strings (arguments and config entries) into stores to scan. Textual-free.

Directories that are not caches themselves are searched with discovery; a registry host is
expanded through its catalog; a registry repository comes from the shared registry session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cachetui.config import Config
from cachetui.errors import CachetuiError, NotFound, UnsupportedOperation
from cachetui.oci.reference import ImageRef, parse_reference
from cachetui.sources import SourceSpec, parse_source
from cachetui.store.base import Store
from cachetui.store.discovery import discover, is_layout
from cachetui.store.layout import LayoutStore

DISCOVER_DEPTH = 4


@dataclass(frozen=True, slots=True)
class SourceRequest:
    """A source the user asked for, with its display settings."""

    text: str
    accent: str | None = None
    read_only: bool = False
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """One store to scan, and the tags to read (``None`` = every tag)."""

    store: Store
    tags: list[str] | None


def requests_for(sources: list[str], config: Config | None) -> list[SourceRequest]:
    """Command-line sources first, then config sources; duplicates dropped."""
    out: list[SourceRequest] = [SourceRequest(text) for text in sources]
    if config is not None:
        for entry in config.sources:
            out.append(SourceRequest(entry.source, entry.accent, entry.read_only or config.read_only,
                                     entry.label))
    seen: set[str] = set()
    unique = []
    for request in out:
        if request.text not in seen:
            seen.add(request.text)
            unique.append(request)
    return unique


class RegistryAccess:
    """The one registry session of the app, opened on first use, closed on exit."""

    def __init__(self, config: Config | None, settings: Any = None) -> None:
        self._config = config or Config()
        self._settings = settings
        """A ``RegistrySettings`` (CLI flags applied); default: from the config file."""
        self._session: Any = None

    def _open(self) -> Any:
        if self._session is None:
            try:
                from cachetui.store.registry.session import RegistrySession
                from cachetui.store.registry.settings import RegistrySettings
            except ImportError:
                raise UnsupportedOperation("registry sources are not supported yet") from None
            settings = self._settings or RegistrySettings.from_config(self._config)
            self._session = RegistrySession(settings)
        return self._session

    def repository(self, ref: ImageRef, *, listed: bool = False) -> Store:
        """``listed``: the name came from the catalog (an empty repository is no error)."""
        store: Store = self._open().repository(ref, listed=listed)
        return store

    async def catalog(self, host: str) -> list[str]:
        names: list[str] = await self._open().catalog(host)
        return names

    def host_read_only(self, host: str) -> bool:
        """``read_only = true`` in the config's ``[registries."HOST"]``."""
        return self._config.registry(host).read_only

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.aclose()
            self._session = None


def directory_targets(spec: SourceSpec) -> list[Target]:
    """A cache directory, or every cache directory found under a folder."""
    assert spec.path is not None
    reference = spec.reference
    if is_layout(spec.path) or reference is not None:
        return [Target(LayoutStore(spec.path), [reference] if reference else None)]
    found = discover(spec.path, max_depth=DISCOVER_DEPTH)
    if not found.layouts:
        problems = "; ".join(f"{path}: {why}" for path, why in found.unreadable)
        raise NotFound("no cache directories found" + (f" ({problems})" if problems else ""),
                       where=str(spec.path))
    return [Target(LayoutStore(path), None) for path in found.layouts]


async def open_targets(spec: SourceSpec, registry: RegistryAccess) -> list[Target]:
    """The stores one parsed source names. Raises :class:`CachetuiError` with a one-line reason."""
    if spec.kind == "directory":
        return directory_targets(spec)
    if spec.kind == "object":
        assert spec.objects is not None
        reference = spec.reference
        return [Target(spec.objects.open(), [reference] if reference else None)]
    if spec.kind == "host":
        assert spec.host is not None
        repositories = await registry.catalog(spec.host)
        return [Target(registry.repository(parse_reference(f"{spec.host}/{name}", default_tag=False),
                                           listed=True), None) for name in repositories]
    if spec.kind == "gha":
        from cachetui.store.gha.opener import open_gha_text

        return [Target(open_gha_text(spec.text), [spec.tag] if spec.tag else None)]
    assert spec.ref is not None
    reference = spec.reference
    return [Target(registry.repository(spec.ref), [reference] if reference else None)]


def parse(text: str) -> SourceSpec:
    """:func:`parse_source`, with any unexpected parse failure turned into a one-line error."""
    try:
        return parse_source(text)
    except CachetuiError:
        raise
    except (ValueError, OSError) as exc:
        raise NotFound(str(exc), where=text) from None


def display_label(spec: SourceSpec) -> str:
    """Short name for the tree and the Where column: a directory's last path component."""
    if spec.kind == "directory" and spec.path is not None:
        name = spec.path.resolve().name or str(spec.path)
        return f"{name}:{spec.reference}" if spec.reference else name
    return spec.text
