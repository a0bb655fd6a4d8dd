"""buildx cache specs exactly as users paste them, into :class:`Location`.

``type=registry,ref=ghcr.io/org/app:buildcache,mode=max``, ``type=local,src=/tmp/cache,tag=main``,
``type=s3,region=eu-west-1,bucket=b,name=main``, ``type=azblob,account_url=...,name=n``,
``type=gha,scope=main``, ``type=inline,ref=IMAGE`` and buildx's bare shorthand ``user/app:cache``
(a registry ref). Values may be quoted CSV fields, as buildx parses them. Every attribute buildx
and BuildKit document for the type is accepted; an unknown one is an error (a typo would otherwise
be silently ignored).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from cachetui.errors import InvalidInput
from cachetui.locations.location import SECRET_ATTRS, Location, LocationKind, spec_field
from cachetui.oci.digest import Digest
from cachetui.oci.reference import parse_reference, validate_tag
from cachetui.oci.specfields import split_spec_fields

_EXPORT: Final = frozenset({"mode", "ignore-error", "compression", "compression-level",
                            "force-compression", "oci-mediatypes", "image-manifest"})
_OBJECT: Final = frozenset({"name", "prefix", "blobs_prefix", "manifests_prefix",
                            "upload_parallelism", "mode", "ignore-error"})

ATTRIBUTES: Final[dict[str, frozenset[str]]] = {
    "local": _EXPORT | {"src", "dest", "tag", "digest", "reset"},
    "registry": _EXPORT | {"ref", "registry.insecure"},
    "inline": frozenset({"ref"}),
    "s3": _OBJECT | {"bucket", "region", "endpoint_url", "use_path_style", "access_key_id",
                     "secret_access_key", "session_token", "touch_refresh",
                     "disable_accept_encoding", "retry_mode", "retry_max_attempts", "profile"},
    "azblob": _OBJECT | {"account_url", "account_name", "container", "secret_access_key",
                         "sas_token"},
    "gha": frozenset({"scope", "token", "url", "url_v2", "version", "timeout", "ghtoken",
                      "repository", "mode", "ignore-error"}),
}
"""Attributes per ``type=`` (buildkit ``cache/remotecache/*``, buildx ``util/buildflags``)."""


def is_cache_spec(text: str) -> bool:
    return text.strip().startswith("type=")


def parse_cache_spec(text: str) -> Location:
    """A buildx cache spec; a value without ``=`` is the registry shorthand."""
    text = text.strip()
    if not text:
        raise InvalidInput("empty cache spec")
    if "=" not in text:
        ref = parse_reference(text)
        return Location("registry", text, ref=ref, tag=ref.tag, digest=ref.digest)
    raw = text
    attrs = split_spec_fields(text)
    kind = attrs.pop("type", "")
    secrets = {key: attrs.pop(key) for key in list(attrs) if key in SECRET_ATTRS}
    if secrets:  # the text shows up in every message below: never with a credential in it
        text = ",".join(spec_field(key, "***" if key in secrets else value)
                        for key, value in {"type": kind, **attrs, **secrets}.items())
    if kind not in ATTRIBUTES:
        raise InvalidInput(f"invalid cache spec {text!r}: unknown type {kind!r} (known: "
                           f"{', '.join(ATTRIBUTES)})")
    unknown = sorted((set(attrs) | set(secrets)) - ATTRIBUTES[kind])
    if unknown:
        raise InvalidInput(f"invalid cache spec {text!r}: type={kind} has no attribute "
                           f"{unknown[0]!r}")
    if kind in ("registry", "inline"):
        ref_text = attrs.pop("ref", "")
        if not ref_text:
            what = "the image that carries the cache" if kind == "inline" else "the repository"
            raise InvalidInput(f"invalid cache spec {text!r}: type={kind} needs ref= ({what})")
        ref = parse_reference(ref_text)
        return Location("inline" if kind == "inline" else "registry", text, ref=ref, tag=ref.tag,
                        digest=ref.digest, attrs=attrs)
    if kind == "local":
        src, dest = attrs.pop("src", ""), attrs.pop("dest", "")
        path = src or dest
        if not path:
            raise InvalidInput(f"invalid cache spec {text!r}: type=local needs src= or dest=")
        tag = attrs.pop("tag", "") or None
        digest_text = attrs.pop("digest", "")
        return Location("local", text, path=Path(os.path.expanduser(path)),
                        tag=validate_tag(tag) if tag else None,
                        digest=Digest(digest_text) if digest_text else None, attrs=attrs)
    return _object_store(kind, text, attrs, secrets, raw)  # type: ignore[arg-type]


def _object_store(kind: LocationKind, text: str, attrs: dict[str, str],
                  secrets: dict[str, str], raw: str) -> Location:
    """s3, azblob and gha: the manifest name is the location's tag (gha keeps ``scope``)."""
    tag: str | None = None
    if kind != "gha":
        # One name is one cache (a tag); several, or none, list every manifest under the prefix.
        names = [name for name in attrs.pop("name", "").split(";") if name]
        tag = names[0] if len(names) == 1 else None
        if len(names) > 1:
            attrs["names"] = ";".join(names)
    if kind == "s3":
        for key, env in (("bucket", "AWS_BUCKET"), ("region", "AWS_REGION")):
            if not attrs.get(key) and os.environ.get(env):
                attrs[key] = os.environ[env]
        if not attrs.get("bucket"):
            raise InvalidInput(f"invalid cache spec {text!r}: type=s3 needs bucket= "
                               "(or $AWS_BUCKET)")
    if kind == "azblob":
        for key, env in (("account_url", "BUILDKIT_AZURE_STORAGE_ACCOUNT_URL"),
                         ("container", "BUILDKIT_AZURE_STORAGE_CONTAINER")):
            if not attrs.get(key) and os.environ.get(env):
                attrs[key] = os.environ[env]
    return Location(kind, text, tag=tag, attrs=attrs, secrets=secrets, spec=raw)
