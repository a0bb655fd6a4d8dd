"""``cachetui reexport SRC DST [--compression ...] [--min] ...``: a consistent re-encode.

Prints the plan (layers to re-encode, keep or drop, bytes in, expected bytes out), applies it,
re-reads the result and checks it (every config blob is a manifest layer, every blob verifies,
every layer keeps its diffID) before the destination tag moves.
"""

from __future__ import annotations

import argparse

from cachetui.cli.endpoints import open_destination, open_source, source_references
from cachetui.cli.planned import refuse_clobber, show_then_apply
from cachetui.cli.registry_args import add_registry_arguments, workspace
from cachetui.errors import InvalidInput, UsageError
from cachetui.oci.mediatypes import Compression
from cachetui.ops.recompress import Encoding
from cachetui.ops.reexport import ReexportSettings, apply_reexport, plan_reexport
from cachetui.present.plans import describe_reexport_plan, describe_reexport_result


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Re-export the cache SRC into DST (any directory or registry; DST may be SRC "
        "with another tag). Layers not in the target compression are re-encoded (--force: all), "
        "and the manifest AND the cache config are rewritten to name the new blobs, keeping "
        "diffIDs and buildkit/createdat. estargz layers are read as gzip; writing estargz is not "
        "supported. Output is deterministic: gzip has a fixed header (mtime 0, no name) and "
        "level, zstd is single-threaded at a fixed level. The result is re-read and checked "
        "before the destination tag is moved.")
    parser.add_argument("source", metavar="SRC")
    parser.add_argument("destination", metavar="DST")
    parser.add_argument("--compression", choices=[c.value for c in Compression],
                        help="target layer compression (default: keep each layer's); estargz "
                        "is not a target")
    parser.add_argument("--level", type=int, metavar="N",
                        help="compression level (gzip 0-9, default 6; zstd 1-22, default 3)")
    parser.add_argument("--force", action="store_true",
                        help="re-encode every layer, also those already in the target "
                        "compression (for a new level)")
    parser.add_argument("--oci-mediatypes", type=_bool, metavar="true|false",
                        help="OCI (true) or Docker (false) media types (default: as SRC)")
    parser.add_argument("--image-manifest", type=_bool, metavar="true|false",
                        help="image-manifest form (true) or index form (false) (default: as SRC;"
                        " --oci-mediatypes=false alone implies false, as in BuildKit)")
    parser.add_argument("--min", action="store_true",
                        help="keep only what serves the final image (the min analysis): drop "
                        "intermediate-only results and layers")
    parser.add_argument("--dry-run", action="store_true", help="only print the plan")
    parser.add_argument("--no-clobber", action="store_true",
                        help="refuse to move a destination tag that exists")
    parser.add_argument("--json", action="store_true", help="print the plan and result as JSON")
    add_registry_arguments(parser)
    parser.set_defaults(handler=run)


def settings_from_args(args: argparse.Namespace) -> ReexportSettings:
    """The options as settings; a value out of range is a usage error (exit 2)."""
    compression = Compression(args.compression) if args.compression else None
    if args.level is not None and compression is None:
        raise UsageError("--level needs --compression")
    if compression is not None:
        try:
            Encoding.of(compression, args.level)
        except InvalidInput as exc:
            raise UsageError(f"--level: {exc}") from None
    return ReexportSettings(compression=compression, level=args.level, force=args.force,
                            oci_mediatypes=args.oci_mediatypes,
                            image_manifest=args.image_manifest, minimal=args.min)


async def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    async with workspace(args) as ws:
        source, spec = open_source(args.source, ws)
        destination = open_destination(args.destination, ws)
        (reference,) = await source_references(source, spec, all_tags=False)
        plan = await plan_reexport(source, reference, destination.store, destination.tag,
                                   settings)
        if args.no_clobber:
            refuse_clobber(plan.destination, [(plan.destination_tag, plan.replaces)])
        return await show_then_apply(
            args, plan, describe_reexport_plan,
            lambda sink, cancel: apply_reexport(plan, source, destination.store, sink=sink,
                                                cancel=cancel),
            describe_reexport_result)
