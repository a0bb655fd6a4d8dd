"""One typed :class:`Location` for everything a user can type or configure.

One kind vocabulary (:data:`LocationKind`). A location has an identity (:attr:`Location.id`: the
store it opens, equal to that store's ``id``) apart from its display text (:attr:`display`), and
prints the exact ``--cache-from`` spec that opens it in buildx (:meth:`cache_from`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, Literal

from cachetui.oci.digest import Digest
from cachetui.oci.reference import DOCKER_HUB_API, ImageRef

LocationKind = Literal["local", "registry", "registry-host", "inline", "s3", "azblob", "gha"]
"""``local``: a cache directory (``type=local``); ``registry``: a registry repository;
``registry-host``: a whole registry (its catalog); ``inline``: an image carrying inline cache;
``s3``/``azblob``/``gha``: BuildKit's object-store and GitHub Actions caches."""

KINDS: Final[tuple[LocationKind, ...]] = ("local", "registry", "registry-host", "inline", "s3",
                                          "azblob", "gha")

SECRET_ATTRS: Final = frozenset({"secret_access_key", "session_token", "access_key_id", "token",
                                 "ghtoken", "sas_token"})
"""buildx attributes that carry credentials: kept apart, never printed."""

_ORDER: Final[dict[str, tuple[str, ...]]] = {
    "s3": ("region", "bucket", "endpoint_url", "use_path_style", "prefix", "blobs_prefix",
           "manifests_prefix"),
    "azblob": ("account_url", "account_name", "container", "prefix", "blobs_prefix",
               "manifests_prefix"),
    "gha": ("repository", "scope"),
}
"""Attributes that say where an object-store cache is (its identity), in buildx's usual order."""


def spec_field(key: str, value: str) -> str:
    """``key=value`` as buildx's CSV reader takes it back (the whole field quoted when it holds
    a comma or a quote)."""
    text = f"{key}={value}"
    if any(ch in text for ch in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


@dataclass(frozen=True, slots=True)
class Location:
    """Where a cache (or a set of caches) is. Build with :mod:`cachetui.locations.parse`."""

    kind: LocationKind
    text: str
    """What the user typed (for messages), credential values replaced by ``***``."""
    path: Path | None = None
    """``local``: the cache directory."""
    ref: ImageRef | None = None
    """``registry``/``inline``: the repository (its tag and digest are :attr:`tag`/:attr:`digest`)."""
    host: str | None = None
    """``registry-host``: the registry host as typed (``docker.io``, ``localhost:5000``)."""
    tag: str | None = None
    """The tag (``local``/``registry``) or manifest name (``s3``/``azblob``); a gha scope is
    ``attrs["scope"]`` (a gha cache's tags are ``SCOPE@REF``)."""
    digest: Digest | None = None
    attrs: Mapping[str, str] = field(default_factory=dict)
    """Other buildx attributes (``mode``, ``region``, ``bucket``...), secrets excluded."""
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    """Credential attributes given in the spec (``secret_access_key``, ``token``...)."""
    spec: str = field(default="", repr=False, compare=False)
    """The spec exactly as given, credentials included: only for openers that read their own
    settings from it (never shown)."""

    @property
    def reference(self) -> str | None:
        """The tag or digest to open, or ``None`` for every cache."""
        return self.digest or self.tag

    @property
    def id(self) -> str:
        """The identity of the store this location opens (tag and digest excluded).

        Equal to that store's ``id``; two spellings of one place (``./c`` and ``/abs/c``,
        ``docker.io`` and ``registry-1.docker.io``) have the same id.
        """
        if self.kind == "local":
            assert self.path is not None
            return "local:" + os.path.abspath(os.path.expanduser(self.path))
        if self.kind in ("registry", "inline"):
            assert self.ref is not None
            return f"registry:{self.ref.api_host}/{self.ref.repository}"
        if self.kind == "registry-host":
            assert self.host is not None
            return f"registry-host:{self.api_host}"
        where = ",".join(f"{key}={self.attrs[key]}" for key in _ORDER[self.kind]
                         if self.attrs.get(key))
        return f"{self.kind}:{where}"

    @property
    def api_host(self) -> str | None:
        """The host the registry API is served on (``registry``, ``inline``, ``registry-host``)."""
        if self.ref is not None:
            return self.ref.api_host
        if self.host is not None:
            return DOCKER_HUB_API if self.host in ("docker.io", "index.docker.io") else self.host
        return None

    @property
    def registry_host(self) -> str | None:
        """The registry's name as configured (``[registries."HOST"]``), for registry kinds."""
        if self.ref is not None:
            return self.ref.registry
        return self.host

    @property
    def display(self) -> str:
        """For people: a path, ``HOST/REPO[:TAG]``, or the spec without secrets."""
        if self.kind == "local":
            assert self.path is not None
            text = str(self.path)
            if self.digest:
                return f"{text}@{self.digest}"
            return f"{text}:{self.tag}" if self.tag else text
        if self.kind in ("registry", "inline"):
            assert self.ref is not None
            return str(ImageRef(self.ref.registry, self.ref.repository, self.tag, self.digest))
        if self.kind == "registry-host":
            assert self.host is not None
            return self.host
        return self.cache_from()

    def with_reference(self, tag: str | None = None, digest: Digest | None = None) -> Location:
        """The same place, naming one cache."""
        return replace(self, tag=tag, digest=digest)

    def cache_from(self) -> str:
        """The ``--cache-from`` value that makes buildx import this cache (secrets left out:
        buildx reads them from its environment)."""
        if self.kind == "local":
            assert self.path is not None
            parts = ["type=local", spec_field("src", os.path.abspath(os.path.expanduser(self.path)))]
            if self.digest:
                parts.append(f"digest={self.digest}")
            elif self.tag:
                parts.append(f"tag={self.tag}")
            return ",".join(parts)
        if self.kind in ("registry", "inline"):
            # An inline cache is imported from its image with type=registry as well.
            assert self.ref is not None
            ref = ImageRef(self.ref.registry, self.ref.repository, self.tag, self.digest)
            return f"type=registry,ref={ref}"
        if self.kind == "registry-host":
            raise ValueError("a whole registry has no --cache-from; name a repository")
        parts = [f"type={self.kind}"]
        parts += [spec_field(key, self.attrs[key]) for key in _ORDER[self.kind] if self.attrs.get(key)]
        if self.tag:
            parts.append(spec_field("name", self.tag))
        return ",".join(parts)
