"""Small BuildKit-shaped cache directories written directly to disk, fast enough for property tests.

Each tag is an image-manifest cache (OCI manifest → cache config + gzip-typed layers with
``buildkit/createdat``); tags may share layer blobs, and extra unreferenced blobs can be added.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from tests.fixtures import fixture_dir

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
CACHE_CONFIG = "application/vnd.buildkit.cacheconfig.v0"
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OLD = 1_000_000_000.0
"""An mtime far in the past (2001): older than any grace period."""


def put_blob(root: Path, data: bytes, *, mtime: float | None = None) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = root / "blobs" / "sha256" / digest[7:]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return digest


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def cache_manifest(root: Path, layers: Sequence[bytes], created: datetime, *, salt: str = "",
                   mtime: float | None = None) -> tuple[str, int]:
    """Write layers, a cache config and a manifest; returns the manifest (digest, size)."""
    stamp = _rfc3339(created)
    descriptors = []
    config_layers = []
    records = []
    for position, data in enumerate(layers):
        digest = put_blob(root, data, mtime=mtime)
        descriptors.append({
            "mediaType": GZIP_LAYER, "digest": digest, "size": len(data),
            "annotations": {"buildkit/createdat": stamp,
                            "containerd.io/uncompressed": "sha256:" + hashlib.sha256(
                                b"diff" + data).hexdigest()},
        })
        config_layers.append({"blob": digest, "parent": position - 1})
        record: dict[str, object] = {
            "digest": "sha256:" + hashlib.sha256(f"{salt}/{position}".encode()).hexdigest(),
            "layers": [{"layer": position, "createdAt": stamp}],
        }
        if position:
            record["inputs"] = [[{"link": position - 1}]]
        records.append(record)
    config = json.dumps({"layers": config_layers, "records": records},
                        separators=(",", ":")).encode()
    config_digest = put_blob(root, config, mtime=mtime)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": CACHE_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": descriptors,
    }, separators=(",", ":")).encode()
    return put_blob(root, manifest, mtime=mtime), len(manifest)


def write_index(root: Path, tags: dict[str, tuple[str, int]]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_bytes(b'{"imageLayoutVersion":"1.0.0"}')
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
         "annotations": {"org.opencontainers.image.ref.name": tag}}
        for tag, (digest, size) in tags.items()]}
    (root / "index.json").write_bytes(json.dumps(index, separators=(",", ":")).encode())


def copy_fixture(name: str, destination: Path) -> Path:
    """A writable copy of a real BuildKit fixture directory (the originals are read-only).

    Blob mtimes are set far in the past: the grace period counts from them, and a checkout's
    fixtures may be minutes old on one machine and months old on another.
    """
    shutil.copytree(fixture_dir("buildkit", name), destination)
    for directory, _, files in os.walk(destination):
        os.chmod(directory, 0o755)
        for file in files:
            os.chmod(os.path.join(directory, file), 0o644)
    age_all_blobs(destination)
    return destination


def age_all_blobs(root: Path, mtime: float = OLD) -> None:
    for path in (root / "blobs" / "sha256").iterdir():
        os.utime(path, (mtime, mtime))


def reachable_ok(root: Path) -> list[str]:
    """Problems with any tag: every blob reachable from index.json must exist and match."""
    problems = []
    index = json.loads((root / "index.json").read_bytes())
    stack = list(index["manifests"])
    seen: set[str] = set()
    while stack:
        descriptor = stack.pop()
        digest = descriptor["digest"]
        if digest in seen:
            continue
        seen.add(digest)
        path = root / "blobs" / "sha256" / digest[7:]
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            problems.append(f"missing {digest}")
            continue
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest or len(data) != descriptor["size"]:
            problems.append(f"corrupt {digest}")
            continue
        if descriptor["mediaType"] in (OCI_MANIFEST, OCI_INDEX):
            body = json.loads(data)
            stack.extend(body.get("manifests", []))
            if "config" in body:
                stack.append(body["config"])
            stack.extend(body.get("layers", []))
    return problems


def reachable_set(root: Path) -> set[str]:
    index = json.loads((root / "index.json").read_bytes())
    stack = list(index["manifests"])
    seen: set[str] = set()
    while stack:
        descriptor = stack.pop()
        if descriptor["digest"] in seen:
            continue
        seen.add(descriptor["digest"])
        if descriptor["mediaType"] in (OCI_MANIFEST, OCI_INDEX):
            body = json.loads((root / "blobs" / "sha256" / descriptor["digest"][7:]).read_bytes())
            stack.extend(body.get("manifests", []))
            if "config" in body:
                stack.append(body["config"])
            stack.extend(body.get("layers", []))
    return seen


def blob_digests(root: Path) -> set[str]:
    return {"sha256:" + p.name for p in (root / "blobs" / "sha256").iterdir()
            if not p.name.startswith(".")}


def plain_image(root: Path, layers: Sequence[bytes], *, mtime: float | None = None) -> tuple[str, int]:
    """An ordinary image manifest (image config, gzip layers): not a cache."""
    diff_ids = ["sha256:" + hashlib.sha256(b"diff" + data).hexdigest() for data in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    config_digest = put_blob(root, config, mtime=mtime)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": GZIP_LAYER, "digest": put_blob(root, data, mtime=mtime),
                    "size": len(data)} for data in layers],
    }, separators=(",", ":")).encode()
    return put_blob(root, manifest, mtime=mtime), len(manifest)
