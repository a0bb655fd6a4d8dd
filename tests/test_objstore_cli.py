"""The CLI on s3/azblob locations: buildx specs, short forms, reports, gc, and one-line errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cachetui.cli import main
from cachetui.store.azblob import AzblobBackend
from cachetui.store.objspec import parse_object_location
from tests.backend_fixtures import facts
from tests.fixtures import fixture_dir
from tests.objstore_procs import REPO, Azurite, Moto, load_s3
from tests.objstore_servers import az_loaded, unique_name
from tests.registry_procs import free_port


def s3_spec(moto: Moto, bucket: str, secret: str | None = None, **extra: str) -> str:
    attrs = {"endpoint_url": moto.endpoint, "bucket": bucket, "region": "us-east-1",
             "use_path_style": "true", "access_key_id": moto.access_key,
             "secret_access_key": secret or moto.secret_key, **extra}
    return "type=s3," + ",".join(f"{k}={v}" for k, v in attrs.items())


def az_spec(azurite: Azurite, container: str, key: str | None = None, **extra: str) -> str:
    attrs = {"account_url": azurite.account_url, "account_name": azurite.account,
             "secret_access_key": key or azurite.key, "container": container, **extra}
    return "type=azblob," + ",".join(f"{k}={v}" for k, v in attrs.items())


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a child process: what a user sees on stdout/stderr."""
    return subprocess.run([sys.executable, "-m", "cachetui", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=120, check=False)


def test_buildx_specs_and_short_forms_parse_like_buildkit() -> None:
    location = parse_object_location("type=s3,bucket=b,region=r,prefix=proj,name=a;b,"
                                     "secret_access_key=SECRET,access_key_id=AKID")
    assert location.s3 is not None
    assert location.s3.layout.manifest_key("a") == "projmanifests/a"
    assert location.s3.names == ("a", "b")
    assert "SECRET" not in location.text and "AKID" not in location.text
    assert "SECRET" not in repr(location)
    short = parse_object_location("s3://bk-cache/proj")
    assert short.s3 is not None and short.s3.layout.blob_key("sha256:x") == "proj/blobs/sha256:x"
    az = parse_object_location("type=azblob,account_url=https://acct.blob.core.windows.net,"
                               "prefix=proj/")
    assert az.azblob is not None and az.azblob.account == "acct"
    assert az.azblob.container == "buildkit-cache"
    assert az.azblob.layout.manifest_key("main") == "proj/manifests/main"
    azs = parse_object_location("azblob://acct/cont/proj")
    assert azs.azblob is not None and azs.azblob.layout.blob_key("sha256:x") \
        == "proj/blobs/sha256:x"


def test_ls_and_inspect_an_s3_bucket(moto: Moto, capsys: pytest.CaptureFixture[str]) -> None:
    bucket = unique_name()
    load_s3(moto, bucket, "two-builds")
    spec = s3_spec(moto, bucket)
    assert main(["ls", spec, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    text = json.dumps(out)
    assert moto.secret_key not in text
    assert sorted(entry["tag"] for entry in out) == ["main", "release"]
    info = facts("s3", "two-builds")
    for entry in out:
        want = next(m for m in info["manifests"] if m["name"] == entry["tag"])
        assert entry["store"] == "s3"
        assert entry["layer_count"] == want["layerCount"]
        assert entry["size_bytes"] == want["uniqueLayerBytes"]
        assert entry["min_size_bytes"] == want["minEstimate"]["bytes"]
        assert entry["unreferenced_bytes"] == info["orphanedBytes"]
    assert main(["objects", spec, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["prefixes"][0]
    assert report["orphanedBytes"] == info["orphanedBytes"]
    assert [o["key"] for o in report["orphanedBlobs"]] == [o["key"] for o in info["orphanedBlobs"]]
    assert moto.secret_key not in json.dumps(report)


def test_gc_and_repair_plan_first_then_apply(moto: Moto, capsys: pytest.CaptureFixture[str]) -> None:
    bucket = unique_name()
    load_s3(moto, bucket, "two-builds")
    spec = s3_spec(moto, bucket)
    assert main(["gc", spec, "--grace", "0s", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert len(plan["plans"][0]["delete"]) == 4 and not plan["results"]
    assert main(["gc", spec, "--json"]) == 0  # default grace 1h: all just uploaded
    assert json.loads(capsys.readouterr().out)["plans"][0]["delete"] == []
    assert main(["gc", spec, "--grace", "0s", "--yes", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["results"][0]["bytes"] == facts("s3", "two-builds")["orphanedBytes"]
    dangling = unique_name()
    load_s3(moto, dangling, "dangling")
    assert main(["gc", s3_spec(moto, dangling), "--repair", "--yes", "--json"]) == 0
    repaired = json.loads(capsys.readouterr().out)
    assert repaired["results"][0]["deleted"] == ["buildkit"]


def test_copy_a_directory_into_s3_and_azblob_by_spec(moto: Moto, azurite: Azurite,
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    bucket = unique_name()
    moto.client().create_bucket(Bucket=bucket)
    source = str(fixture_dir("buildkit", "local-min"))
    assert main(["copy", f"{source}:latest", s3_spec(moto, bucket, name="main")]) == 0
    container = unique_name()
    assert main(["copy", s3_spec(moto, bucket, name="main"),
                 az_spec(azurite, container, name="main")]) == 0
    assert main(["copy", az_spec(azurite, container, name="main"),
                 str(tmp_path / "back") + ":latest"]) == 0
    capsys.readouterr()
    assert main(["ls", str(tmp_path / "back"), "--json"]) == 0


@pytest.mark.parametrize("case", ["wrong-secret", "missing-bucket", "unreachable",
                                  "missing-container", "wrong-key"])
def test_bad_credentials_and_places_are_one_clear_line(moto: Moto, azurite: Azurite,
                                                       case: str) -> None:
    bucket = unique_name()
    moto.client().create_bucket(Bucket=bucket)
    secret = "not-the-secret-0000000000000000000000000"
    wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleQ=="
    closed = f"http://127.0.0.1:{free_port()}"
    spec = {
        "wrong-secret": s3_spec(moto, bucket, secret=secret),
        "missing-bucket": s3_spec(moto, "no-such-bucket-here"),
        "unreachable": s3_spec(moto, bucket).replace(moto.endpoint, closed),
        "missing-container": az_spec(azurite, "no-such-container"),
        "wrong-key": az_spec(azurite, unique_name(), key=wrong_key),
    }[case]
    done = cli("ls", spec)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for hidden in (secret, wrong_key, moto.secret_key, azurite.key):
        assert hidden not in done.stderr + done.stdout
    word = {"wrong-secret": "access denied", "missing-bucket": "does not exist",
            "unreachable": "cannot reach", "missing-container": "does not exist",
            "wrong-key": "access denied"}[case]
    assert word in lines[0]
    if case == "unreachable":  # where, and why: the port refused (first request included)
        assert f"cannot reach {closed}: " in lines[0] and "Connection refused" in lines[0]


async def test_ls_shows_orphaned_bytes_of_an_azblob_prefix(azurite: Azurite) -> None:
    store = await az_loaded(azurite, "two-builds")
    assert await store.unreferenced_bytes() == facts("azblob", "two-builds")["orphanedBytes"]
    await store.aclose()


def test_inspect_reports_the_dangling_references_of_a_manifest(
        moto: Moto, capsys: pytest.CaptureFixture[str]) -> None:
    bucket = unique_name()
    load_s3(moto, bucket, "dangling")
    spec = s3_spec(moto, bucket, name="buildkit")
    assert main(["inspect", spec, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    info = facts("s3", "dangling")
    assert [d["key"] for d in row["objects"]["danglingReferences"]] \
        == [d["key"] for d in info["danglingReferences"]]
    assert all(d["records"] for d in row["objects"]["danglingReferences"])
    assert main(["inspect", spec]) == 0
    text = capsys.readouterr().out
    assert "DANGLING      2 blobs" in text


def test_short_form_with_a_profile_from_the_shared_credentials_file(
        moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The standard chain through botocore: AWS_PROFILE + ~/.aws/credentials, endpoint from
    AWS_ENDPOINT_URL_S3, region from ~/.aws/config; nothing in the command line."""
    bucket = unique_name()
    load_s3(moto, bucket, "multi-name")
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[ci]\naws_access_key_id = {moto.access_key}\n"
                           f"aws_secret_access_key = {moto.secret_key}\n")
    config = tmp_path / "config"
    config.write_text("[profile ci]\nregion = us-east-1\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                 "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "ci")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto.endpoint)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["ls", f"s3://{bucket}/proj", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(entry["tag"] for entry in out) == ["main", "pr-42"]
    monkeypatch.setenv("AWS_PROFILE", "missing")
    assert main(["ls", f"s3://{bucket}/proj"]) != 0
    assert "profile 'missing' not found" in capsys.readouterr().err
    config.write_text("[profile ci\nregion = us-east-1\n")  # a header without its bracket
    monkeypatch.setenv("AWS_PROFILE", "ci")
    assert main(["ls", f"s3://{bucket}/proj"]) != 0
    err = capsys.readouterr().err.strip()  # which file is broken, in one line
    assert err.endswith(f"cannot load AWS credentials: ConfigParseError in {config}"), err


def test_addressing_styles() -> None:
    from cachetui.store.s3 import S3Backend, S3Settings

    virtual = S3Backend(S3Settings(bucket="bk", region="eu-west-1"))
    virtual._endpoint = "https://s3.eu-west-1.amazonaws.com"
    assert virtual._url(virtual._endpoint, "blobs/sha256:ab") \
        == "https://bk.s3.eu-west-1.amazonaws.com/blobs/sha256%3Aab"
    path = S3Backend(S3Settings(bucket="bk", use_path_style=True))
    assert path._url("http://minio:9000", "m/x", "list-type=2") \
        == "http://minio:9000/bk/m/x?list-type=2"
    dotted = S3Backend(S3Settings(bucket="my.bucket"))
    dotted._endpoint = "https://s3.amazonaws.com"
    assert dotted._url(dotted._endpoint, "k") == "https://s3.amazonaws.com/my.bucket/k"


def test_object_store_caches_are_named_annotated_and_unreferenced_is_under_the_prefix(
        moto: Moto, azurite: Azurite, capsys: pytest.CaptureFixture[str]) -> None:
    """s3/azblob hold BuildKit's annotated cache config, not an image manifest; the directory
    and registry wording stays as it was (tests/test_cli.py)."""
    bucket = unique_name()
    load_s3(moto, bucket, "dangling")
    container = asyncio.run(_az_container(azurite))
    for spec in (s3_spec(moto, bucket, name="buildkit"), az_spec(azurite, container,
                                                                 name="main")):
        assert main(["ls", spec]) == 0
        text = capsys.readouterr().out
        assert "annotated" in text and "image-manifest" not in text
        assert main(["ls", spec, "--json"]) == 0
        assert {row["format"] for row in json.loads(capsys.readouterr().out)} == {"annotated"}
        assert main(["ls", spec, "--format", "csv"]) == 0
        csv_text = capsys.readouterr().out
        assert ",annotated," in csv_text and "image-manifest" not in csv_text
        assert main(["inspect", spec]) == 0
        text = capsys.readouterr().out
        assert "  format        annotated  (BuildKit cache config with layer annotations)" in text
        assert "under the prefix" in text and "in the directory" not in text
        assert "image-manifest" not in text
    directory = str(fixture_dir("buildkit", "local-min"))
    assert main(["inspect", directory]) == 0
    text = capsys.readouterr().out
    assert "  format        image-manifest  (application/vnd.oci.image.manifest.v1+json)" in text
    assert "in the directory" in text and "annotated" not in text


async def _az_container(azurite: Azurite) -> str:
    store = await az_loaded(azurite, "two-builds")
    await store.aclose()
    backend = store.backend
    assert isinstance(backend, AzblobBackend)
    return backend.settings.container
