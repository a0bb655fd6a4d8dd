"""``cachetui copy SRC DST [--all-tags] [--dry-run] [--json]``: copy caches exactly.

The plan is printed first (blobs to copy, mount or skip, and bytes); then it is applied. The
manifest bytes are copied unchanged, so the digest is the same on both sides.
"""

from __future__ import annotations

import argparse

from cachetui.cli.endpoints import open_destination, open_source, source_references
from cachetui.cli.planned import refuse_clobber, show_then_apply
from cachetui.cli.registry_args import add_registry_arguments, workspace
from cachetui.errors import InvalidInput
from cachetui.ops.copy import apply_copy, plan_copy
from cachetui.present.plans import describe_copy_plan, describe_copy_result


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Copy a cache from SRC to DST, any pair of directory and registry. SRC is a "
        "directory, DIR:TAG, type=local,src=DIR[,tag=T], HOST/REPO:TAG or type=registry,ref=.... "
        "DST is a directory (created if missing), DIR:TAG, type=local,dest=DIR[,tag=T], "
        "HOST/REPO[:TAG] or type=registry,ref=.... The destination tag defaults to the source "
        "tag. Blobs DST has are skipped, blobs in the same registry are mounted; an interrupted "
        "copy finishes on the next run without moving finished blobs again. Every cache form "
        "copies (image-manifest, index, Docker list); an inline cache copies as its image.")
    parser.add_argument("source", metavar="SRC")
    parser.add_argument("destination", metavar="DST")
    parser.add_argument("--all-tags", action="store_true", help="copy every tag of SRC")
    parser.add_argument("--dry-run", action="store_true", help="only print the plan")
    parser.add_argument("--no-clobber", action="store_true",
                        help="refuse to move a destination tag that exists (the plan says "
                        "'replaces sha256:...')")
    parser.add_argument("--json", action="store_true", help="print the plan and result as JSON")
    add_registry_arguments(parser)
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    async with workspace(args) as ws:
        source, spec = open_source(args.source, ws)
        destination = open_destination(args.destination, ws)
        references = await source_references(source, spec, all_tags=args.all_tags)
        if destination.tag is not None and len(references) > 1:
            raise InvalidInput("--all-tags keeps tag names; do not name a destination tag")
        plan = await plan_copy(source, references, destination.store, destination.tag)
        if args.no_clobber:
            refuse_clobber(destination.store.location,
                           [(tag.destination_tag, tag.replaces) for tag in plan.tags])
        return await show_then_apply(
            args, plan, describe_copy_plan,
            lambda sink, cancel: apply_copy(plan, source, destination.store, sink=sink,
                                            cancel=cancel),
            describe_copy_result)
