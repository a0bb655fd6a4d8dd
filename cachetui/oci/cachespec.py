"""buildx cache specs exactly as users paste them.

``type=registry,ref=ghcr.io/org/app:buildcache,mode=max``, ``type=local,src=/tmp/cache,tag=main``,
``type=local,dest=/tmp/cache``, and buildx's bare shorthand ``user/app:cache`` (a registry ref).
Values may be quoted CSV fields, as buildx parses them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Final, Literal

from cachetui.errors import InvalidInput
from cachetui.oci.digest import Digest
from cachetui.oci.reference import ImageRef, parse_reference, validate_tag

_UNSUPPORTED: Final = ("gha", "s3", "azblob", "inline")


@dataclass(frozen=True, slots=True)
class CacheSpec:
    """A parsed ``--cache-from``/``--cache-to`` value."""

    type: Literal["registry", "local"]
    ref: ImageRef | None = None
    path: str | None = None
    tag: str | None = None
    digest: Digest | None = None
    attrs: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        if self.type == "registry":
            return f"type=registry,ref={self.ref}"
        text = f"type=local,src={self.path}"
        if self.tag:
            text += f",tag={self.tag}"
        if self.digest:
            text += f",digest={self.digest}"
        return text


def is_cache_spec(text: str) -> bool:
    return text.strip().startswith("type=")


def parse_cache_spec(text: str) -> CacheSpec:
    """Parse a buildx cache spec; a value without ``=`` is the registry shorthand."""
    text = text.strip()
    if not text:
        raise InvalidInput("empty cache spec")
    if "=" not in text:
        return CacheSpec(type="registry", ref=parse_reference(text))
    try:
        fields = next(csv.reader([text]))
    except csv.Error as exc:
        raise InvalidInput(f"invalid cache spec {text!r}: {exc}") from None
    attrs: dict[str, str] = {}
    for item in fields:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise InvalidInput(f"invalid cache spec {text!r}: {item!r} is not key=value")
        attrs[key] = value.strip()
    kind = attrs.pop("type", "")
    if kind in _UNSUPPORTED:
        raise InvalidInput(f"type={kind} caches are not supported; use type=registry or type=local")
    if kind == "registry":
        ref_text = attrs.pop("ref", "")
        if not ref_text:
            raise InvalidInput(f"invalid cache spec {text!r}: type=registry needs ref=")
        return CacheSpec(type="registry", ref=parse_reference(ref_text), attrs=attrs)
    if kind == "local":
        src = attrs.pop("src", "")
        dest = attrs.pop("dest", "")
        path = src or dest
        if not path:
            raise InvalidInput(f"invalid cache spec {text!r}: type=local needs src= or dest=")
        tag = attrs.pop("tag", "") or None
        digest_text = attrs.pop("digest", "")
        return CacheSpec(
            type="local",
            path=path,
            tag=validate_tag(tag) if tag else None,
            digest=Digest(digest_text) if digest_text else None,
            attrs=attrs,
        )
    raise InvalidInput(f"invalid cache spec {text!r}: unknown type {kind!r}")
