"""Locations: everything a user can type, one kind vocabulary, identity apart from display, and
the ``--cache-from`` spec that opens each location again in buildx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cachetui.config import Config, RegistryConfig, SourceConfig
from cachetui.errors import InvalidInput, NotFound, ReadOnlySource, UnsupportedOperation
from cachetui.locations import Location, Workspace, parse_destination, parse_location
from cachetui.locations.buildx import ATTRIBUTES, parse_cache_spec
from cachetui.locations.openers import OPENERS

GOOD = "sha256:" + "a" * 64


def test_directories_with_tag_or_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c").mkdir()
    plain = parse_location("./c")
    assert (plain.kind, plain.path, plain.reference) == ("local", Path("c"), None)
    tagged = parse_location("./c:main")
    assert (tagged.kind, tagged.tag) == ("local", "main")
    pinned = parse_location(f"./c@{GOOD}")
    assert (pinned.kind, pinned.digest) == ("local", GOOD)
    # One place, two spellings: one identity; the display keeps what was typed.
    assert parse_location(str(tmp_path / "c")).id == plain.id == f"local:{tmp_path / 'c'}"
    assert plain.display == "c" and tagged.display == "c:main"
    with pytest.raises(NotFound, match="no such directory"):
        parse_location("./missing")


def test_a_file_named_as_a_source_is_not_called_missing(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``cachetui ls ./index.json`` (or any file): the file exists, it is just not a cache
    directory; "no such directory" sent people looking for a typo."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "index.json").write_text("{}")
    with pytest.raises(NotFound, match="not a directory: a cache is a directory holding"):
        parse_location("./index.json")


def test_registries_hosts_and_the_docker_hub_shorthand() -> None:
    repo = parse_location("localhost:5000/team/app:cache")
    assert repo.kind == "registry" and repo.ref is not None
    assert (repo.ref.repository, repo.tag) == ("team/app", "cache")
    assert repo.id == "registry:localhost:5000/team/app"
    host = parse_location("localhost:5000")
    assert (host.kind, host.host, host.id) == ("registry-host", "localhost:5000",
                                               "registry-host:localhost:5000")
    pinned = parse_location(f"ghcr.io/org/app@{GOOD}")
    assert pinned.digest == GOOD and pinned.tag is None
    hub = parse_location("user/app:cache")
    assert hub.kind == "registry" and hub.ref is not None
    assert hub.ref.name == "docker.io/user/app" and hub.id == "registry:registry-1.docker.io/user/app"
    # docker.io and its API host are one registry
    assert parse_location("docker.io").api_host == "registry-1.docker.io"


def test_every_buildx_type_parses_with_its_attributes() -> None:
    registry = parse_cache_spec("type=registry,ref=ghcr.io/org/app:buildcache,mode=max,"
                                "oci-mediatypes=true,image-manifest=true,compression=zstd,"
                                "compression-level=3,force-compression=true,ignore-error=true,"
                                "registry.insecure=true")
    assert registry.kind == "registry" and registry.tag == "buildcache"
    assert registry.attrs["mode"] == "max" and registry.attrs["registry.insecure"] == "true"
    local = parse_cache_spec("type=local,src=/tmp/cache,tag=main")
    assert (local.kind, local.path, local.tag) == ("local", Path("/tmp/cache"), "main")
    dest = parse_cache_spec("type=local,dest=./out,mode=max,compression=zstd,reset=true")
    assert dest.path == Path("out") and dest.attrs["reset"] == "true"
    assert parse_cache_spec(f"type=local,src=/c,digest={GOOD}").digest == GOOD
    assert parse_cache_spec('"type=local","src=/path with, comma"').path == Path("/path with, comma")
    inline = parse_cache_spec("type=inline,ref=ghcr.io/org/app:v1")
    assert inline.kind == "inline" and inline.tag == "v1"
    s3 = parse_cache_spec("type=s3,region=eu-west-1,bucket=caches,name=main;pr-1,prefix=ci/,"
                          "blobs_prefix=b/,manifests_prefix=m/,endpoint_url=http://127.0.0.1:9000,"
                          "use_path_style=true,access_key_id=AKIA,secret_access_key=SECRET,"
                          "session_token=TOKEN,upload_parallelism=4,touch_refresh=24h,mode=max,"
                          "ignore-error=true,retry_mode=standard,retry_max_attempts=3,"
                          "disable_accept_encoding=true")
    assert (s3.kind, s3.tag) == ("s3", None)  # several names: every manifest is listed
    assert s3.attrs["bucket"] == "caches" and s3.attrs["names"] == "main;pr-1"
    assert set(s3.secrets) == {"access_key_id", "secret_access_key", "session_token"}
    az = parse_cache_spec("type=azblob,account_url=https://acct.blob.core.windows.net,name=n,"
                          "container=c,prefix=p,secret_access_key=KEY,mode=max")
    assert (az.kind, az.tag, az.attrs["container"]) == ("azblob", "n", "c")
    gha = parse_cache_spec("type=gha,scope=main,token=T,url=http://127.0.0.1:1/,url_v2=x,"
                           "version=2,timeout=10m,ghtoken=G,repository=o/r,mode=max")
    assert (gha.kind, gha.tag, gha.attrs["scope"]) == ("gha", None, "main")
    assert set(gha.secrets) == {"token", "ghtoken"}
    assert "T" not in gha.text.replace("type", "") and gha.spec.endswith("mode=max")
    url = parse_location("gha://octo/app?scope=main")
    assert url.id == gha_id("octo/app", "main") == parse_location(url.cache_from()).id
    assert set(ATTRIBUTES) == {"local", "registry", "inline", "s3", "azblob", "gha"}


@pytest.mark.parametrize(("text", "message"), [
    ("type=registry", "needs ref="),
    ("type=inline", "needs ref="),
    ("type=local,tag=x", "needs src= or dest="),
    ("type=nope,ref=x", "unknown type"),
    ("type=local,src=/x,tag=bad tag", "invalid tag"),
    ("type=local,src=/x,digest=sha256:../..", "invalid digest"),
    ("type=registry,ref", "not key=value"),
    ("type=registry,ref=a/b,refx=c", "no attribute 'refx'"),
    ("type=s3,region=r", "needs bucket="),
])
def test_spec_errors_say_what_is_wrong(text: str, message: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_BUCKET", "BUILDKIT_AZURE_STORAGE_ACCOUNT_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(InvalidInput, match=message):
        parse_location(text)


@pytest.mark.parametrize("text", [
    "type=s3,bucket=b,secret_access_key=TOPSECRET,junk",         # a field that is not key=value
    "type=s3,bucket=b,secret_access_key=TOP,SECRET",             # a comma inside the secret
    "type=azblob,secret_access_key=TOPSECRET,junk",
    "type=gha,token=TOPSECRET,junk",
    "type=s3,bucket=b,secret_access_key=TOPSECRET,bogus=1",      # an unknown attribute
    "type=nope,token=TOPSECRET",                                 # an unknown type
    "type=s3,region=r,secret_access_key=TOPSECRET",              # a missing bucket
])
def test_spec_errors_never_repeat_a_credential(text: str, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from cachetui.cli import main

    for name in ("AWS_REGION", "AWS_BUCKET", "BUILDKIT_AZURE_STORAGE_ACCOUNT_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(InvalidInput) as raised:
        parse_location(text)
    assert "SECRET" not in str(raised.value) and "TOP" not in str(raised.value)
    assert main(["inspect", text]) != 0
    printed = capsys.readouterr()
    assert "invalid cache spec" in printed.err
    assert "SECRET" not in printed.out + printed.err and "TOP" not in printed.out + printed.err


@pytest.mark.parametrize("text", [
    "type=local,src=/ci/cache,tag=main",
    f"type=local,src=/ci/cache,digest={GOOD}",
    "type=registry,ref=ghcr.io/org/app:buildcache",
    f"type=registry,ref=localhost:5000/app@{GOOD}",
    "type=s3,region=eu-west-1,bucket=caches,prefix=ci/,name=main",
    "type=azblob,account_url=https://acct.blob.core.windows.net,container=c,name=main",
    "type=gha,repository=o/r,scope=main",
])
def test_cache_from_opens_the_same_cache_again(text: str) -> None:
    location = parse_location(text)
    again = parse_location(location.cache_from())
    assert (again.id, again.tag, again.digest) == (location.id, location.tag, location.digest)


def test_cache_from_of_typed_sources(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    assert parse_location(f"{tmp_path}/c:main").cache_from() == \
        f"type=local,src={tmp_path}/c,tag=main"
    assert parse_location("user/app:cache").cache_from() == \
        "type=registry,ref=docker.io/user/app:cache"
    # buildx imports an inline cache from its image with type=registry
    assert parse_location("type=inline,ref=ghcr.io/o/app:v1").cache_from() == \
        "type=registry,ref=ghcr.io/o/app:v1"
    odd = Location("local", "x", path=Path("/a,b"), tag="t")
    assert odd.cache_from() == 'type=local,"src=/a,b",tag=t'
    assert parse_location(odd.cache_from()).path == Path("/a,b")


def test_secrets_are_never_printed() -> None:
    location = parse_location("type=s3,region=r,bucket=b,secret_access_key=SUPERSECRET,"
                              "session_token=TOKENSECRET")
    for text in (location.cache_from(), location.display, location.id, repr(location)):
        assert "SUPERSECRET" not in text and "TOKENSECRET" not in text
    assert location.secrets["secret_access_key"] == "SUPERSECRET"


def test_destinations_may_not_exist_yet_and_need_an_explicit_registry_host(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    new = parse_destination("./new-cache:v2")
    assert (new.kind, new.path, new.tag) == ("local", Path("new-cache"), "v2")
    bare = parse_destination("name")  # never a push to Docker Hub by accident
    assert bare.kind == "local"
    pushed = parse_destination("localhost:5000/app:cache")
    assert pushed.kind == "registry" and pushed.tag == "cache"
    with pytest.raises(InvalidInput, match="registry host"):
        parse_destination("localhost:5000")
    with pytest.raises(InvalidInput, match="not a digest"):
        parse_destination(f"localhost:5000/app@{GOOD}")
    with pytest.raises(InvalidInput, match="inline"):
        parse_destination("type=inline,ref=a/b:c")


def gha_id(repository: str, scope: str) -> str:
    return f"gha:repository={repository},scope={scope}"


def test_a_kind_without_an_opener_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(OPENERS, "azblob")
    location = parse_location("type=azblob,account_url=https://a.example,name=n")
    with pytest.raises(UnsupportedOperation, match="type=azblob caches are not supported yet"):
        Workspace(Config()).open(location)


def test_object_store_short_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = parse_location("s3://caches/ci/")
    assert (s3.kind, s3.attrs["bucket"], s3.attrs["prefix"], s3.tag) == ("s3", "caches", "ci/", None)
    az = parse_location("azblob://acct/cont/pre")
    assert (az.kind, az.attrs["container"], az.attrs["prefix"]) == ("azblob", "cont", "pre")
    one = parse_location("type=s3,region=r,bucket=b,name=main")
    many = parse_location("type=s3,region=r,bucket=b,name=a;b")
    assert (one.tag, many.tag) == ("main", None)  # several names: every manifest is listed
    gha = parse_location("gha://octo/app?scope=main&ref=refs/heads/main")
    assert gha.tag == "main@refs/heads/main"


def test_read_only_rules_global_per_source_and_per_registry(tmp_path: Path) -> None:
    (tmp_path / "frozen" / "inner").mkdir(parents=True)
    (tmp_path / "free").mkdir()
    config = Config(sources=[SourceConfig(str(tmp_path / "frozen"), read_only=True),
                             SourceConfig("registry.example:5000/frozen", read_only=True)],
                    registries={"locked.example:5000": RegistryConfig(read_only=True)})
    workspace = Workspace(config)
    assert workspace.is_read_only(parse_location(str(tmp_path / "frozen")))
    assert workspace.is_read_only(parse_location(str(tmp_path / "frozen" / "inner")))
    assert not workspace.is_read_only(parse_location(str(tmp_path / "free")))
    assert workspace.is_read_only(parse_location("registry.example:5000/frozen:tag"))
    assert not workspace.is_read_only(parse_location("registry.example:5000/other"))
    assert workspace.is_read_only(parse_location("locked.example:5000/any"))
    assert Workspace(Config(read_only=True)).is_read_only(parse_location(str(tmp_path / "free")))
    assert Workspace(Config(), read_only=True).is_read_only(parse_location("a.example/b"))
    store = workspace.open(parse_location(str(tmp_path / "frozen")))
    assert store.read_only
    with pytest.raises(ReadOnlySource, match="read_only = true for source"):
        workspace.open_destination(parse_destination(f"{tmp_path / 'frozen'}:x"))


def test_a_read_only_store_refuses_writes_before_touching_anything(tmp_path: Path) -> None:
    from cachetui.oci.digest import Digest
    from cachetui.oci.models import Descriptor

    workspace = Workspace(Config(read_only=True))
    store = workspace.open(parse_location(str(tmp_path)))
    data = b"x"
    descriptor = Descriptor(media_type="application/octet-stream", digest=Digest.of(data), size=1)

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    with pytest.raises(ReadOnlySource):
        asyncio.run(store.put_blob(descriptor, chunks()))
    with pytest.raises(ReadOnlySource):
        asyncio.run(store.delete_tag("latest"))
    assert list(tmp_path.iterdir()) == []  # not even blobs/ or oci-layout was created


def test_inspect_json_gives_the_cache_from_spec(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    import json

    from cachetui.cli import main
    from tests.fixtures import fixture_dir

    monkeypatch.setenv("CACHETUI_CONFIG", str(tmp_path / "none.toml"))
    source = fixture_dir("buildkit", "local-min")
    assert main(["inspect", f"{source}:latest", "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["cache_from"] == f"type=local,src={source.resolve()},tag=latest"
