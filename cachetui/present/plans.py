"""Plan and result texts of copy and re-export: the CLI prints them, the TUI's dialogs show them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cachetui.ops.transfer import BlobAction
from cachetui.present import units
from cachetui.present.safe_text import safe

if TYPE_CHECKING:  # types only: a copy need not load the re-export's codecs (bench_startup)
    from cachetui.ops.copy import CopyPlan, CopyResult
    from cachetui.ops.reexport import ReexportPlan, ReexportResult


def describe_copy_plan(plan: CopyPlan) -> str:
    lines = [f"copy {safe(plan.source)} -> {safe(plan.destination)}"]
    for tag in plan.tags:
        state = "  (already there)" if tag.already_there else ""
        lines.append(f"  {safe(tag.source_ref)} -> {safe(tag.destination_tag)}  {tag.top.digest[:19]}  "
                     f"{tag.format}{state}")
        if tag.replaces:
            lines.append(f"    replaces {tag.replaces} (the tag exists and moves)")
    lines.append(
        f"  {plan.blob_count} blobs, {units.size(plan.total_bytes)}: "
        f"{plan.count_for(BlobAction.COPY)} to copy ({units.size(plan.bytes_for(BlobAction.COPY))}), "
        f"{plan.count_for(BlobAction.MOUNT)} to mount, "
        f"{plan.count_for(BlobAction.SKIP)} already there "
        f"({units.size(plan.bytes_for(BlobAction.SKIP))})")
    lines.extend(f"  note: {safe(note)}" for note in plan.notes)
    return "\n".join(lines)


def describe_copy_result(result: CopyResult, seconds: float) -> str:
    return (f"done in {seconds:.1f}s: copied {units.size(result.bytes_for(BlobAction.COPY))}, "
            f"mounted {units.size(result.bytes_for(BlobAction.MOUNT))}, "
            f"skipped {units.size(result.bytes_for(BlobAction.SKIP))}")


def describe_reexport_plan(plan: ReexportPlan) -> str:
    encoding = plan.settings.encoding
    estimate = "~" if plan.of("re-encode") else ""
    lines = [
        f"re-export {safe(plan.source)}:{safe(plan.source_ref)} -> "
        f"{safe(plan.destination)}:{safe(plan.destination_tag)}",
        f"  form         {plan.document.format} -> {plan.form.format} "
        f"({'OCI' if plan.form.oci else 'Docker'} media types)",
        f"  compression  {encoding if encoding else 'as is'}{' (forced)' if plan.settings.force else ''}",
        f"  layers       {len(plan.of('re-encode'))} re-encode "
        f"({units.size(plan.bytes_in)} in), {len(plan.of('keep'))} keep, "
        f"{len(plan.of('drop'))} drop",
        f"  size         {units.size(plan.source_bytes)} -> {estimate}"
        f"{units.size(plan.expected_bytes_out)}",
    ]
    if plan.replaces:
        lines.append(f"  replaces     {plan.replaces} (the tag exists and moves)")
    for layer in plan.of("reuse"):
        assert layer.reuses is not None
        where = "the destination's cache" if layer.reuses_destination else "this cache"
        lines.append(f"  reuse        layer {layer.descriptor.digest[7:19]} uses "
                     f"{layer.reuses.digest[7:19]}, the same content already in "
                     f"{plan.settings.compression} in {where} (no re-encode)")
    if plan.settings.minimal:
        lines.append(f"  min          {plan.dropped_results} intermediate-only results dropped "
                     "(estimate for a clean builder)")
    unchanged = level_not_applied(plan)
    if unchanged:
        lines.append(f"  note         level {plan.settings.level} is not applied to "
                     f"{units.count(unchanged, 'layer')} already in {plan.settings.compression}: "
                     "they are kept byte for byte (force re-encodes them)")
    return "\n".join(lines)


def level_not_applied(plan: ReexportPlan) -> int:
    """Layers kept as they are although a level was asked for: already in the target
    compression, and not forced (re-encoding only for a level costs CPU for little)."""
    settings = plan.settings
    if settings.level is None or settings.force or settings.compression is None:
        return 0
    return sum(1 for layer in plan.of("keep") if layer.compression == settings.compression)


def describe_reexport_result(result: ReexportResult, seconds: float) -> str:
    return (f"done in {seconds:.1f}s: {result.top.digest} "
            f"({units.count(len(result.plan.of('re-encode')), 'layer')} re-encoded, "
            f"{units.size(result.bytes_written)} written, "
            f"{result.verified_layers} layers verified)")
