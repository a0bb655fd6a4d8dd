"""The real s3/azblob/gha exports in ``shared/fixtures/buildkit-backends``, read in place."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.fixtures import expected, fixture_dir

GROUP = "buildkit-backends"


def variants(backend: str) -> list[str]:
    """Variant names of one backend (``s3``, ``azblob``, ``gha``), e.g. ``two-builds``."""
    prefix = f"{backend}/"
    return sorted(v[len(prefix):] for v in expected(GROUP)["variants"] if v.startswith(prefix))


def facts(backend: str, variant: str) -> dict[str, Any]:
    info: dict[str, Any] = expected(GROUP)["variants"][f"{backend}/{variant}"]
    return info


def variant_dir(backend: str, variant: str) -> Path:
    return fixture_dir(GROUP, f"{backend}/{variant}")


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object of a dump: its key (s3) or name (azblob), bytes on disk and listing facts."""

    key: str
    path: Path
    size: int
    last_modified: str
    metadata: dict[str, str]


@cache
def objects(backend: str, variant: str) -> tuple[StoredObject, ...]:
    """Every object of an s3 or azblob dump, as the server listed it."""
    folder = variant_dir(backend, variant)
    listing = json.loads((folder / "objects.json").read_text(encoding="utf-8"))
    field = "key" if backend == "s3" else "name"
    return tuple(
        StoredObject(item[field], folder / item["file"], item["size"], item["last_modified"],
                     dict(item.get("metadata") or {}))
        for item in listing["objects"]
    )


@dataclass(frozen=True, slots=True)
class AnnotatedManifest:
    """One manifest (s3/azblob) or index entry (gha) with its EXPECTED facts."""

    backend: str
    variant: str
    key: str
    raw: bytes
    info: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.backend}/{self.variant}:{self.key}"


def annotated_manifests() -> list[AnnotatedManifest]:
    """Every manifest and index entry of every variant (24 in all)."""
    out: list[AnnotatedManifest] = []
    for backend in ("s3", "azblob"):
        for variant in variants(backend):
            folder = variant_dir(backend, variant)
            for info in facts(backend, variant)["manifests"]:
                raw = (folder / "objects" / info["key"]).read_bytes()
                out.append(AnnotatedManifest(backend, variant, info["key"], raw, info))
    for variant in variants("gha"):
        folder = variant_dir("gha", variant)
        for index in facts("gha", variant)["indexes"]:
            for info in index["entries"]:
                raw = (folder / "entries" / quote(info["key"], safe="")).read_bytes()
                out.append(AnnotatedManifest("gha", variant, info["key"], raw, info))
    return out
