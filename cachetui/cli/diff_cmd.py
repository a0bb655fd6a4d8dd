"""``cachetui diff A B``: the compare screen as a command (shared and unique layers, by digest and
by diffID, and the records the two caches have in common)."""

from __future__ import annotations

import argparse
from typing import Any

from cachetui.buildkit.analysis import CacheAnalysis
from cachetui.buildkit.diff import CacheDiff, LayerPair, diff_caches, pair_layers
from cachetui.cli.common import EXIT_OK, print_json, table
from cachetui.cli.endpoints import open_source, source_references
from cachetui.cli.registry_args import add_registry_arguments, workspace
from cachetui.locations import Workspace
from cachetui.ops.load import DocumentMemo, load_cache
from cachetui.present import units
from cachetui.present.safe_text import safe


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Compare two caches (each a DIR:TAG, HOST/REPO:TAG or buildx spec): "
                          "layers shared by digest, the same content re-encoded (paired by "
                          "diffID), layers only one side has, and records in common.")
    parser.add_argument("left", metavar="A")
    parser.add_argument("right", metavar="B")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    add_registry_arguments(parser)
    parser.set_defaults(handler=run)


async def _load(text: str, ws: Workspace, memo: DocumentMemo) -> CacheAnalysis:
    store, spec = open_source(text, ws)
    (reference,) = await source_references(store, spec, all_tags=False)
    return await load_cache(store, reference, memo=memo)


def diff_json(left: str, right: str, diff: CacheDiff, pairs: list[LayerPair]) -> dict[str, Any]:
    return {
        "left": left, "right": right,
        "same_cache": diff.same_cache, "same_records": diff.same_records,
        "shared_bytes": diff.shared_bytes, "only_left_bytes": diff.only_left_bytes,
        "only_right_bytes": diff.only_right_bytes,
        "records_left": diff.records_left, "records_right": diff.records_right,
        "records_in_common": diff.records_in_common,
        "layers": [{"diff_id": p.diff_id, "left": p.left, "right": p.right,
                    "left_size": p.left_size if p.left else None,
                    "right_size": p.right_size if p.right else None, "status": p.status}
                   for p in pairs],
    }


def summary(left: str, right: str, diff: CacheDiff, pairs: list[LayerPair]) -> list[str]:
    reencoded = sum(1 for p in pairs if p.status == "same content, re-encoded")
    verdict = ("the same cache" + (" in another encoding" if reencoded else "")
               if diff.same_cache else "different caches")
    return [
        f"A  {safe(left)}", f"B  {safe(right)}", f"   {verdict}",
        f"shared      {units.count(len(diff.shared_layers), 'layer')}, "
        f"{units.size(diff.shared_bytes)}",
        f"re-encoded  {units.count(reencoded, 'layer')} with the same content (diffID)",
        f"only in A   {units.count(len(diff.only_left), 'blob')}, "
        f"{units.size(diff.only_left_bytes)} (by digest)",
        f"only in B   {units.count(len(diff.only_right), 'blob')}, "
        f"{units.size(diff.only_right_bytes)} (by digest)",
        f"records     {diff.records_in_common} in common of {diff.records_left} (A) and "
        f"{diff.records_right} (B)",
    ]


def _short(digest: str | None) -> str:
    return digest.split(":", 1)[-1][:12] if digest else "-"


async def run(args: argparse.Namespace) -> int:
    memo = DocumentMemo()
    async with workspace(args) as ws:
        left = await _load(args.left, ws, memo)
        right = await _load(args.right, ws, memo)
    diff = diff_caches(left, right)
    pairs = pair_layers(left, right)
    if args.json:
        print_json(diff_json(args.left, args.right, diff, pairs))
        return EXIT_OK
    print("\n".join(summary(args.left, args.right, diff, pairs)))
    print()
    print(table(["DIFFID", "A", "B", "A SIZE", "B SIZE", ""], [
        [_short(p.diff_id), _short(p.left), _short(p.right),
         units.size(p.left_size) if p.left else "-",
         units.size(p.right_size) if p.right else "-", p.status] for p in pairs],
        right=(3, 4)))
    return EXIT_OK
