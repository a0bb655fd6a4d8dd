"""Object-store benchmark on moto (S3 API, IAM signature checking on), measured in one run.

1. ``cachetui ls`` and ``cachetui objects`` of a bucket holding 300 manifests over shared blobs
   (the real ``s3/max`` export, its manifest written 300 times with distinct record times, so
   every manifest has its own digest and config).
2. ``cachetui copy`` of generated cache directories of two sizes (default ~100 MB and ~500 MB)
   into s3 (moto) and into azblob (Azurite), and the larger back from s3 into a new directory
   (multipart / block uploads, verified reads): MB/s and each run's peak RSS. Upload memory must
   not grow with the cache: it is bounded by the parts in flight, not by blob sizes.

    .venv/bin/python -m bench.bench_objstore [SMALL_MIB LARGE_MIB | listing]
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
from tests.objstore_procs import Azurite, Moto, start_azurite, start_moto  # noqa: E402

MANIFESTS = 300
LISTING_GOAL = 1.2
"""``ls`` of the bucket within this many times the boto3 floor (same run)."""
UPLOAD_RSS_GOAL = 150.0
"""Peak RSS (MiB) of any directory -> object store copy, whatever the cache size."""
FLAT_GOAL = 1.15
"""The larger cache's upload peak RSS within this factor of the smaller one's (flat)."""


def spec(moto: Moto, bucket: str, **extra: str) -> str:
    attrs = {"endpoint_url": moto.endpoint, "bucket": bucket, "region": "us-east-1",
             "use_path_style": "true", "access_key_id": moto.access_key,
             "secret_access_key": moto.secret_key, **extra}
    return "type=s3," + ",".join(f"{k}={v}" for k, v in attrs.items())


def az_spec(azurite: Azurite, container: str, **extra: str) -> str:
    attrs = {"account_url": azurite.account_url, "account_name": azurite.account,
             "secret_access_key": azurite.key, "container": container, **extra}
    return "type=azblob," + ",".join(f"{k}={v}" for k, v in attrs.items())


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


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


def make_cache(path: Path, total_mib: int) -> int:
    """A generated 9-layer cache of about ``total_mib`` (incompressible layers); its bytes."""
    layer_mib = max(1, total_mib // 9)
    write_cache(path, "latest", CacheShape(layer_bytes=layer_mib * 1024 * 1024, stages=3,
                                           compressibility=0.05, level=1))
    return sum(p.stat().st_size for p in (path / "blobs" / "sha256").iterdir())


BOTO3_SCRIPT = """
import sys, boto3
endpoint, key, secret, bucket = sys.argv[1:5]
client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id=key, aws_secret_access_key=secret)
for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="manifests/"):
    for item in page.get("Contents", []):
        client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
"""


def boto3_process(moto: Moto, bucket: str) -> float:
    """The same boto3 loop as a fresh process: Python start-up and imports included, as in
    the ``cachetui`` run it is compared with."""
    seconds, _ = timed([sys.executable, "-c", BOTO3_SCRIPT, moto.endpoint, moto.access_key,
                        moto.secret_key, bucket])
    return seconds


def listing(moto: Moto) -> None:
    fill_listing_bucket(moto, "listing")
    moto.client().create_bucket(Bucket="empty")
    ls_seconds, ls_rss = timed(cli("ls", spec(moto, "listing"), "--json"))
    ls_again, _ = timed(cli("ls", spec(moto, "listing"), "--json"))
    empty_seconds, _ = timed(cli("ls", spec(moto, "empty"), "--json"))
    objects_seconds, objects_rss = timed(cli("objects", spec(moto, "listing"), "--json"))
    floor = boto3_floor(moto, "listing")
    process_floor = boto3_process(moto, "listing")
    print(f"boto3 list + GET of the {MANIFESTS} manifests, in this process (same run): "
          f"{floor:.2f} s; as a fresh process (start-up + imports + the same loop): "
          f"{process_floor:.2f} s")
    best = min(ls_seconds, ls_again)
    print(f"ls of {MANIFESTS} manifests over 9 shared blobs: {ls_seconds:.2f} s "
          f"(again {ls_again:.2f} s), peak RSS {ls_rss:.0f} MiB; ls of an empty bucket "
          f"(start-up, imports, two listings) {empty_seconds:.2f} s, so the {MANIFESTS} "
          f"manifests cost {best - empty_seconds:.2f} s against the loop's {floor:.2f} s")
    print(f"ls / boto3 fresh process {best / process_floor:.2f}x (goal <= {LISTING_GOAL}x: "
          f"{met(best / process_floor <= LISTING_GOAL)}); ls / in-process loop "
          f"{best / floor:.2f}x (start-up included on one side only)")
    print(f"objects (orphans + dangling) of the same bucket: {objects_seconds:.2f} s, "
          f"peak RSS {objects_rss:.0f} MiB")


def uploads(moto: Moto, azurite: Azurite, work: Path, sizes: list[int]) -> None:
    peaks: dict[str, list[float]] = {"s3": [], "azblob": []}
    largest = ""
    for n, total_mib in enumerate(sizes):
        cache = work / f"cache{n}"
        size = make_cache(cache, total_mib)
        mb = size / 1e6
        bucket = f"copy{n}"
        moto.client().create_bucket(Bucket=bucket)
        for kind, target in (("s3", spec(moto, bucket, name="main")),
                             ("azblob", az_spec(azurite, bucket, name="main"))):
            seconds, rss = timed(cli("copy", f"{cache}:latest", target))
            peaks[kind].append(rss)
            print(f"copy {mb:.0f} MB directory -> {kind}: {seconds:.1f} s "
                  f"({mb / seconds:.0f} MB/s), peak RSS {rss:.0f} MiB")
        largest = bucket
        shutil.rmtree(cache)
    down_seconds, down_rss = timed(cli("copy", spec(moto, largest, name="main"),
                                       f"{work / 'back'}:latest"))
    print(f"copy s3 ({sizes[-1]} MiB cache) -> new directory: {down_seconds:.1f} s, "
          f"peak RSS {down_rss:.0f} MiB")
    for kind, measured in peaks.items():
        flat = measured[-1] / measured[0]
        print(f"{kind} upload peak RSS {' / '.join(f'{r:.0f}' for r in measured)} MiB for "
              f"{' / '.join(str(s) for s in sizes)} MiB caches: goal < {UPLOAD_RSS_GOAL:.0f} MiB "
              f"and flat (largest / smallest <= {FLAT_GOAL}x, here {flat:.2f}x): "
              f"{met(max(measured) < UPLOAD_RSS_GOAL and flat <= FLAT_GOAL)}")


def main() -> int:
    listing_only = sys.argv[1:] == ["listing"]
    sizes = [int(a) for a in sys.argv[1:3]] if len(sys.argv) > 2 else [100, 500]
    moto = start_moto()
    azurite = start_azurite()
    work = Path(tempfile.mkdtemp(prefix="cachetui-bench-objstore-"))
    try:
        listing(moto)
        if not listing_only:
            uploads(moto, azurite, work, sizes)
    finally:
        moto.stop()
        azurite.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
