"""Digests, references, cache specs and media types: the pure OCI layer."""

from __future__ import annotations

import pytest

from cachetui.errors import InvalidDigest, InvalidInput
from cachetui.oci import mediatypes as mt
from cachetui.oci.digest import Digest, Verifier, is_digest
from cachetui.oci.reference import parse_reference

GOOD = "sha256:" + "a" * 64


def test_digest_accepts_sha256_and_sha512() -> None:
    assert Digest(GOOD).hex == "a" * 64
    assert Digest("sha512:" + "0" * 128).algorithm == "sha512"
    assert Digest.of(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("text", [
    "", "sha256:", "sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha256:" + "a" * 65,
    "md5:" + "a" * 32, "sha256:../../etc/passwd", "sha256/" + "a" * 64, "sha256:" + "a" * 63 + "/",
    "sha256:" + "a" * 64 + "\n", " sha256:" + "a" * 64, "sha512:" + "a" * 64,
])
def test_digest_rejects_anything_else(text: str) -> None:
    with pytest.raises(InvalidDigest):
        Digest(text)
    assert not is_digest(text)


def test_verifier_catches_wrong_content_and_size() -> None:
    digest = Digest.of(b"hello")
    ok = Verifier(digest, 5)
    ok.update(b"hel")
    ok.update(b"lo")
    ok.verify()
    bad = Verifier(digest, 5)
    bad.update(b"jello")
    with pytest.raises(Exception, match="content digest"):
        bad.verify()
    short = Verifier(digest, 6)
    short.update(b"hello")
    with pytest.raises(Exception, match="size is 5"):
        short.verify()
    long = Verifier(digest, 4)
    with pytest.raises(Exception, match="more bytes"):
        long.update(b"hello")


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), [
    ("alpine", "docker.io", "library/alpine", "latest", None),
    ("user/app:cache", "docker.io", "user/app", "cache", None),
    ("docker.io/library/alpine:3", "docker.io", "library/alpine", "3", None),
    ("index.docker.io/alpine", "docker.io", "library/alpine", "latest", None),
    ("ghcr.io/org/team/app:buildcache", "ghcr.io", "org/team/app", "buildcache", None),
    ("localhost:5000/app", "localhost:5000", "app", "latest", None),
    ("localhost/app:v1", "localhost", "app", "v1", None),
    ("127.0.0.1:5000/cachetest/app:buildcache-max", "127.0.0.1:5000", "cachetest/app",
     "buildcache-max", None),
    (f"registry.example.com:443/app@{GOOD}", "registry.example.com:443", "app", None, GOOD),
    (f"app:v1@{GOOD}", "docker.io", "library/app", "v1", GOOD),
])
def test_reference_normalisation(text: str, registry: str, repository: str, tag: str | None,
                                 digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


def test_reference_api_host_and_str() -> None:
    assert parse_reference("alpine").api_host == "registry-1.docker.io"
    assert str(parse_reference("localhost:5000/app")) == "localhost:5000/app:latest"
    assert parse_reference("ghcr.io/org/app", default_tag=False).tag is None


@pytest.mark.parametrize("text", ["", "UPPER/case", "app:", "app:bad tag", "a//b", "app@sha256:zz",
                                  "ghcr.io/", "app:" + "x" * 200])
def test_reference_rejects_bad_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_reference(text)


def test_layer_media_types_and_compression() -> None:
    assert mt.layer_compression(mt.OCI_LAYER_GZIP) is mt.Compression.GZIP
    assert mt.layer_compression(mt.DOCKER_LAYER_ZSTD) is mt.Compression.ZSTD
    assert mt.layer_compression(mt.OCI_FOREIGN_TAR) is mt.Compression.UNCOMPRESSED
    assert mt.convert_layer_type(mt.OCI_LAYER_GZIP, oci=False) == mt.DOCKER_LAYER_GZIP
    assert mt.convert_layer_type(mt.DOCKER_LAYER_TAR, oci=True) == mt.OCI_LAYER_TAR
    assert mt.convert_layer_type(mt.OCI_FOREIGN_GZIP, oci=False) == mt.DOCKER_FOREIGN_GZIP
    assert mt.is_nondistributable(mt.DOCKER_FOREIGN_TAR)
    assert not mt.is_layer(mt.BUILDKIT_CACHE_CONFIG)
    assert mt.sniff_compression(b"\x1f\x8b\x08\x00") is mt.Compression.GZIP
    assert mt.sniff_compression(b"\x28\xb5\x2f\xfd") is mt.Compression.ZSTD
    assert mt.sniff_compression(b"ustar") is mt.Compression.UNCOMPRESSED
    for accept in (mt.OCI_INDEX, mt.OCI_MANIFEST, mt.DOCKER_LIST, mt.DOCKER_MANIFEST):
        assert accept in mt.ACCEPT_ALL_MANIFESTS
