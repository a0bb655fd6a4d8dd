"""Turn what users type (``./cache``, ``./cache:main``, ``type=local,src=...``,
``ghcr.io/org/app:buildcache``, ``type=registry,ref=...``, ``localhost:5000``, ``gha://OWNER/REPO``,
``type=gha,...``) into stores."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cachetui.errors import NotFound
from cachetui.oci.cachespec import is_cache_spec, parse_cache_spec
from cachetui.oci.digest import Digest, is_digest
from cachetui.oci.reference import ImageRef, looks_like_host, parse_reference, validate_tag
from cachetui.store.gha.location import is_gha, parse_gha
from cachetui.store.layout import LayoutStore
from cachetui.store.objspec import ObjectLocation, is_object_location, parse_object_location


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A parsed source argument: a directory, a registry repository, or a whole registry."""

    kind: Literal["directory", "registry", "host", "gha", "object"]
    text: str
    path: Path | None = None
    ref: ImageRef | None = None
    host: str | None = None
    tag: str | None = None
    digest: Digest | None = None
    objects: ObjectLocation | None = None
    """An s3/azblob location (``kind == "object"``)."""

    @property
    def reference(self) -> str | None:
        """The tag or digest to open, or ``None`` for every tag."""
        return self.digest or self.tag


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~")) or text in (".", "..")


def parse_source(text: str) -> SourceSpec:
    """Classify one source argument. Paths win over registry names when they exist on disk."""
    if is_gha(text):
        return SourceSpec("gha", text, tag=parse_gha(text).cache_name)
    if is_object_location(text):
        location = parse_object_location(text)
        names = (location.s3 or location.azblob).names  # type: ignore[union-attr]
        return SourceSpec("object", location.text, objects=location,
                          tag=names[0] if len(names) == 1 else None)
    if is_cache_spec(text):
        spec = parse_cache_spec(text)
        if spec.type == "local":
            assert spec.path is not None
            return SourceSpec("directory", text, path=Path(os.path.expanduser(spec.path)),
                              tag=spec.tag, digest=spec.digest)
        assert spec.ref is not None
        return SourceSpec("registry", text, ref=spec.ref, tag=spec.ref.tag,
                          digest=spec.ref.digest)
    expanded = os.path.expanduser(text)
    if os.path.isdir(expanded):
        return SourceSpec("directory", text, path=Path(expanded))
    for separator in ("@", ":"):
        head, sep, tail = expanded.rpartition(separator)
        if sep and head and os.path.isdir(head):
            if separator == "@" or is_digest(tail):
                return SourceSpec("directory", text, path=Path(head), digest=Digest(tail))
            return SourceSpec("directory", text, path=Path(head), tag=validate_tag(tail))
    if _looks_like_path(text):
        raise NotFound("no such directory", where=text)
    if "/" not in text and looks_like_host(text):
        return SourceSpec("host", text, host=text)
    ref = parse_reference(text, default_tag=False)
    return SourceSpec("registry", text, ref=ref, tag=ref.tag, digest=ref.digest)


def open_directory(spec: SourceSpec) -> LayoutStore:
    assert spec.path is not None
    return LayoutStore(spec.path)
