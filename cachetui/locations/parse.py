"""Parse what a user typed into a :class:`Location`: sources (to read) and destinations (to write).

Sources: a directory, ``DIR:TAG``, ``DIR@sha256:…``, any buildx cache spec, ``HOST`` (a whole
registry), ``HOST/REPO[:TAG|@digest]`` and the bare ``user/app:cache`` shorthand. Paths win over
registry names when they exist on disk.

Destinations may not exist yet: ``./new-cache``, ``./new-cache:TAG``, ``type=local,dest=DIR`` name a
cache directory to create. A registry destination needs an explicit host (``HOST/REPO[:TAG]`` or
``type=registry,ref=...``): a bare ``name`` is a directory, never a push to Docker Hub by accident.
Parsing opens nothing (it only looks at which paths exist), so the TUI can check as the user types.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from cachetui.errors import CachetuiError, InvalidInput, NotFound
from cachetui.locations.buildx import is_cache_spec, parse_cache_spec
from cachetui.locations.location import Location
from cachetui.oci.digest import Digest, is_digest
from cachetui.oci.reference import looks_like_host, parse_reference, validate_host, validate_tag


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~")) or text in (".", "..")


def parse_location(text: str) -> Location:
    """A source: what to read. Raises a one-line :class:`CachetuiError` when it names nothing."""
    try:
        return _parse_source(text)
    except CachetuiError:
        raise
    except (ValueError, OSError) as exc:
        raise NotFound(str(exc), where=text) from None


def _parse_source(text: str) -> Location:
    if not text.strip():
        raise InvalidInput("empty source: name a directory, HOST/REPO or a cache spec")
    if text.startswith("gha://"):
        return _gha_url(text)
    if text.startswith(("s3://", "azblob://")):
        return _object_url(text)
    if is_cache_spec(text):
        return parse_cache_spec(text)
    expanded = os.path.expanduser(text)
    if os.path.isdir(expanded):
        return Location("local", text, path=Path(expanded))
    for separator in ("@", ":"):
        head, sep, tail = expanded.rpartition(separator)
        if sep and head and os.path.isdir(head):
            if separator == "@" or is_digest(tail):
                return Location("local", text, path=Path(head), digest=Digest(tail))
            return Location("local", text, path=Path(head), tag=validate_tag(tail))
    if _looks_like_path(text):
        if os.path.exists(expanded):  # a file: a cache is a directory (index.json, blobs/)
            raise NotFound("not a directory: a cache is a directory holding index.json",
                           where=text)
        raise NotFound("no such directory", where=text)
    if "/" not in text and looks_like_host(text):
        return Location("registry-host", text, host=validate_host(text))
    ref = parse_reference(text, default_tag=False)
    return Location("registry", text, ref=ref, tag=ref.tag, digest=ref.digest)


def _gha_url(text: str) -> Location:
    """``gha://OWNER/REPO[?scope=S]``: a repository's Actions cache (every scope, or one)."""
    parts = urlsplit(text)
    query = dict(parse_qsl(parts.query))
    unknown = sorted(set(query) - {"scope", "ref"})
    if unknown:
        raise InvalidInput(f"gha:// takes only ?scope= and &ref=, not {', '.join(unknown)}",
                           where=text)
    attrs = {"repository": (parts.netloc + parts.path).strip("/")}
    if query.get("scope"):
        attrs["scope"] = query["scope"]
    tag = f"{query['scope']}@{query['ref']}" if query.get("scope") and query.get("ref") else None
    return Location("gha", text, tag=tag, attrs=attrs, spec=text)


def _object_url(text: str) -> Location:
    """``s3://BUCKET/PREFIX`` and ``azblob://ACCOUNT/CONTAINER/PREFIX``: every manifest there."""
    parts = urlsplit(text)
    path = parts.path.lstrip("/")
    if parts.scheme == "s3":
        attrs = {"bucket": parts.netloc, "prefix": path}
        return Location("s3", text, attrs={k: v for k, v in attrs.items() if v}, spec=text)
    container, _, prefix = path.partition("/")
    attrs = {"account_name": parts.netloc, "container": container, "prefix": prefix}
    return Location("azblob", text, attrs={k: v for k, v in attrs.items() if v}, spec=text)


def split_tag(text: str) -> tuple[str, str | None]:
    """``path:tag`` → (``path``, ``tag``) when the part after the last colon is a valid tag."""
    head, sep, tail = text.rpartition(":")
    if sep and head and "/" not in tail:
        try:
            return head, validate_tag(tail)
        except InvalidInput:
            pass
    return text, None


def parse_destination(text: str) -> Location:
    """A destination: where to write (a directory is created on the first write)."""
    if not text.strip():
        raise InvalidInput("name a directory, DIR:TAG or HOST/REPO[:TAG]")
    if is_cache_spec(text):
        location = parse_cache_spec(text)
        if location.kind == "inline":
            raise InvalidInput("an inline cache is written by a build (--cache-to type=inline), "
                               "not copied; name a registry or a directory", where=text)
        if location.digest is not None:
            raise InvalidInput("a destination takes a tag, not a digest", where=text)
        return location
    try:
        source: Location | None = parse_location(text)
    except (NotFound, InvalidInput):
        source = None
    if source is not None and source.kind == "registry-host":
        raise InvalidInput(f"{text} is a registry host; name a repository (HOST/REPO:TAG)")
    explicit_registry = "/" in text and looks_like_host(text.split("/", 1)[0])
    if source is not None and (source.kind == "local" or explicit_registry):
        if source.digest is not None:
            raise InvalidInput("a destination takes a tag, not a digest", where=text)
        return source
    path_text, tag = split_tag(text)
    path = Path(path_text).expanduser()
    if path.exists() and not path.is_dir():
        raise InvalidInput("not a directory", where=str(path))
    return Location("local", text, path=path, tag=tag)
