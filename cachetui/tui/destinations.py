"""Destinations of the TUI's copy and re-export: checks as the user types, completions.

Textual-free. What a destination text names is :func:`cachetui.locations.parse_destination`, the
same parser the CLI uses; the workspace opens it. On top of that the TUI refuses what would surely
fail or surprise:

- a read-only destination (``read_only`` in the config, globally, for a source or its registry;
  the workspace decides). With ``--read-only`` every writing action (copy, re-export, prune) is
  hidden, whatever the destination;
- copying a cache onto itself (same store, same tag);
- naming one tag for several caches (copies of several caches keep their tag names).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cachetui.config import Config
from cachetui.errors import InvalidInput
from cachetui.locations import Location, Workspace, parse_destination
from cachetui.tui.model import SourceState


def place(location: Location) -> str:
    """A destination's store, for people: the directory, or ``HOST/REPO`` (no tag)."""
    if location.kind == "local":
        assert location.path is not None
        return str(location.path)
    if location.ref is not None:
        return f"{location.ref.api_host}/{location.ref.repository}"
    return location.display


@dataclass(frozen=True, slots=True)
class DestinationRules:
    """What the destination of one copy or re-export may be."""

    sources: tuple[tuple[str, str], ...]
    """(store id, tag) of each cache being copied."""
    read_only: frozenset[str] = frozenset()
    """Store ids of read-only sources open in the app."""
    workspace: Workspace | None = None
    """Decides what the config makes read-only (globally, per source, per registry)."""
    single_tag: bool = False
    """Re-export: the destination gets one tag (the default is given by the dialog)."""
    default_tag: str | None = field(default=None)

    def check(self, text: str) -> Location:
        """The parsed destination, or a one-line :class:`InvalidInput` saying what is wrong."""
        location = parse_destination(text.strip())
        if location.id in self.read_only or (
                self.workspace is not None and self.workspace.is_read_only(location)):
            raise InvalidInput(f"{place(location)} is a read-only source")
        if location.tag is not None and len(self.sources) > 1:
            raise InvalidInput(f"copies of {len(self.sources)} caches keep their tag names; "
                               "do not name a tag")
        for source_id, tag in self.sources:
            target_tag = location.tag or self.default_tag or tag
            if source_id == location.id and target_tag == tag:
                raise InvalidInput(f"{place(location)}:{tag} is the source itself; name another "
                                   "tag (DIR:TAG, HOST/REPO:TAG)")
        return location


def rules_for(sources: Iterable[tuple[str, str]], read_only_ids: Iterable[str],
              workspace: Workspace, *, default_tag: str | None = None) -> DestinationRules:
    """``sources``: (store id, tag) of the caches; ``read_only_ids``: stores shown read-only."""
    return DestinationRules(tuple(sources), frozenset(read_only_ids), workspace,
                            default_tag=default_tag)


def known_destinations(states: Iterable[SourceState], config: Config) -> list[str]:
    """Completions: the sources open in the app, then the config's sources and registry hosts."""
    out: list[str] = []
    for state in states:
        if state.kind == "directory":
            out.append(state.id if state.id.startswith(("/", ".", "~")) else f"./{state.id}")
        elif state.kind == "registry":
            out.append(state.id)
    out.extend(entry.source for entry in config.sources)
    out.extend(f"{host}/" for host in config.registries)
    return list(dict.fromkeys(out))
