"""Object-store benchmark on moto (S3 API, IAM signature checking on), measured in one run.

1. ``cachetui ls`` and ``cachetui objects`` of a bucket holding 300 manifests over shared blobs
   (the real ``s3/max`` export, its manifest written 300 times with distinct record times, so
   every manifest has its own digest and config).
2. ``cachetui copy`` of a generated ~500 MB cache directory into s3 and back into a new
   directory (multipart uploads, verified reads); MB/s and each run's peak RSS.

    .venv/bin/python -m bench.bench_objstore [TOTAL_MIB]
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.process import timed  # noqa: E402
from cachetui.demo.generator import CacheShape, write_cache  # noqa: E402
from tests.backend_fixtures import objects  # noqa: E402
from tests.objstore_procs import Moto, start_moto  # noqa: E402

MANIFESTS = 300


def spec(moto: Moto, bucket: str, **extra: str) -> str:
    attrs = {"endpoint_url": moto.endpoint, "bucket": bucket, "region": "us-east-1",
             "use_path_style": "true", "access_key_id": moto.access_key,
             "secret_access_key": moto.secret_key, **extra}
    return "type=s3," + ",".join(f"{k}={v}" for k, v in attrs.items())


def fill_listing_bucket(moto: Moto, bucket: str) -> None:
    client = moto.client()
    client.create_bucket(Bucket=bucket)
    manifest = b""
    for item in objects("s3", "max"):
        data = item.path.read_bytes()
        if item.key.startswith("manifests/"):
            manifest = data
        else:
            client.put_object(Bucket=bucket, Key=item.key, Body=data)
    config = json.loads(manifest)
    stamp = config["records"][1]["layers"][0]["createdAt"]
    for i in range(MANIFESTS):
        text = manifest.decode().replace(stamp, stamp[:-4] + f"{i:03d}Z", 1)
        client.put_object(Bucket=bucket, Key=f"manifests/m{i:03d}", Body=text.encode())


def boto3_floor(moto: Moto, bucket: str) -> float:
    """A peer in the same run: boto3 listing the manifests and GETting each one, in order."""
    import time

    client = moto.client()
    started = time.perf_counter()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="manifests/")
    for page in pages:
        for item in page.get("Contents", []):
            client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return time.perf_counter() - started


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cachetui", *args]


def main() -> int:
    total_mib = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    moto = start_moto()
    work = Path(tempfile.mkdtemp(prefix="cachetui-bench-objstore-"))
    try:
        fill_listing_bucket(moto, "listing")
        ls_seconds, ls_rss = timed(cli("ls", spec(moto, "listing"), "--json"))
        ls_again, _ = timed(cli("ls", spec(moto, "listing"), "--json"))
        objects_seconds, objects_rss = timed(cli("objects", spec(moto, "listing"), "--json"))
        floor = boto3_floor(moto, "listing")
        print(f"boto3 list + GET of the {MANIFESTS} manifests (floor, same run): {floor:.2f} s")
        print(f"ls of {MANIFESTS} manifests over 9 shared blobs: {ls_seconds:.2f} s "
              f"(again {ls_again:.2f} s), peak RSS {ls_rss:.0f} MiB")
        print(f"objects (orphans + dangling) of the same bucket: {objects_seconds:.2f} s, "
              f"peak RSS {objects_rss:.0f} MiB")

        layer_mib = max(1, total_mib // 9)
        cache = work / "cache"
        write_cache(cache, "latest", CacheShape(layer_bytes=layer_mib * 1024 * 1024, stages=3,
                                                compressibility=0.05, level=1))
        size = sum(p.stat().st_size for p in (cache / "blobs" / "sha256").iterdir())
        moto.client().create_bucket(Bucket="copy")
        up_seconds, up_rss = timed(cli("copy", f"{cache}:latest",
                                       spec(moto, "copy", name="main")))
        down_seconds, down_rss = timed(cli("copy", spec(moto, "copy", name="main"),
                                           f"{work / 'back'}:latest"))
        mb = size / 1e6
        print(f"copy {mb:.0f} MB directory -> s3: {up_seconds:.1f} s ({mb / up_seconds:.0f} MB/s), "
              f"peak RSS {up_rss:.0f} MiB")
        print(f"copy s3 -> new directory: {down_seconds:.1f} s ({mb / down_seconds:.0f} MB/s), "
              f"peak RSS {down_rss:.0f} MiB")
    finally:
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
