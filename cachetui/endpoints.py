"""What a copy or re-export destination names, before anything is opened. Used by the CLI and TUI.

A destination may not exist yet: ``./new-cache``, ``./new-cache:TAG``, ``type=local,dest=DIR``
name a cache directory to create. A registry destination needs an explicit host
(``HOST/REPO[:TAG]`` or ``type=registry,ref=...``): a bare ``name`` is a directory, never a push to
Docker Hub by accident. Parsing touches nothing (it only looks at which paths exist), so the TUI
can validate as the user types.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cachetui.errors import InvalidInput, NotFound
from cachetui.oci.cachespec import is_cache_spec, parse_cache_spec
from cachetui.oci.reference import ImageRef, looks_like_host, validate_tag
from cachetui.sources import SourceSpec, parse_source
from cachetui.store.gha.location import is_gha, parse_gha
from cachetui.store.objspec import is_object_location


@dataclass(frozen=True, slots=True)
class DestinationSpec:
    """A directory (created on first write) or a registry repository, and the tag to write."""

    kind: Literal["directory", "registry", "gha", "object"]
    text: str
    tag: str | None
    path: Path | None = None
    ref: ImageRef | None = None
    objects: SourceSpec | None = None
    """The s3/azblob location (``kind == "object"``), opened like a source."""

    def source_spec(self) -> SourceSpec:
        """The registry repository (or gha / s3 / azblob location) as a source spec."""
        if self.kind == "gha":
            return SourceSpec("gha", self.text, tag=self.tag)
        if self.objects is not None:
            return self.objects
        assert self.ref is not None
        return SourceSpec("registry", self.text, ref=self.ref, tag=self.tag)


def split_tag(text: str) -> tuple[str, str | None]:
    """``path:tag`` → (``path``, ``tag``) when the part after the last colon is a valid tag."""
    head, sep, tail = text.rpartition(":")
    if sep and head and "/" not in tail:
        try:
            return head, validate_tag(tail)
        except InvalidInput:
            pass
    return text, None


def parse_destination(text: str) -> DestinationSpec:
    """Classify a destination argument; raises a one-line :class:`CachetuiError` when it is wrong."""
    if not text.strip():
        raise InvalidInput("name a directory, DIR:TAG or HOST/REPO[:TAG]")
    if is_gha(text):
        return DestinationSpec("gha", text, parse_gha(text).scope)
    if is_object_location(text):
        source = parse_source(text)
        return DestinationSpec("object", source.text, source.tag, objects=source)
    if is_cache_spec(text):
        cache = parse_cache_spec(text)
        if cache.type == "local":
            assert cache.path is not None
            return DestinationSpec("directory", text, cache.tag, path=Path(cache.path).expanduser())
        assert cache.ref is not None
        return DestinationSpec("registry", text, cache.ref.tag, ref=cache.ref)
    try:
        spec: SourceSpec | None = parse_source(text)
    except (NotFound, InvalidInput):
        spec = None
    if spec is not None and spec.kind == "directory":
        assert spec.path is not None
        if spec.digest is not None:
            raise InvalidInput("a destination takes a tag, not a digest", where=text)
        return DestinationSpec("directory", text, spec.tag, path=spec.path)
    if spec is not None and spec.kind == "host":
        raise InvalidInput(f"{text} is a registry host; name a repository (HOST/REPO:TAG)")
    if spec is not None and "/" in text and looks_like_host(text.split("/", 1)[0]):
        assert spec.ref is not None
        if spec.digest is not None:
            raise InvalidInput("a destination takes a tag, not a digest", where=text)
        return DestinationSpec("registry", text, spec.tag, ref=spec.ref)
    path_text, tag = split_tag(text)
    path = Path(path_text).expanduser()
    if path.exists() and not path.is_dir():
        raise InvalidInput("not a directory", where=str(path))
    return DestinationSpec("directory", text, tag, path=path)
