"""The shape of a cache as the CLI's ``--json`` prints it (and the README documents).

One function per shape, so ``ls``, ``inspect`` and the TUI's "copy as JSON" agree.
"""

from __future__ import annotations

from typing import Any

from cachetui.buildkit.analysis import CacheAnalysis, LayerInfo
from cachetui.buildkit.times import format_time
from cachetui.ops.inventory import CacheEntry
from cachetui.present.forms import format_name


def layer_json(layer: LayerInfo, uncompressed: dict[str, int] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "digest": layer.digest,
        "media_type": layer.media_type,
        "size": layer.size,
        "compression": layer.compression,
        "diff_id": layer.diff_id,
        "created_at": format_time(layer.created_at),
        "role": str(layer.role),
        "records": list(layer.records),
    }
    if uncompressed is not None:
        out["uncompressed_size"] = uncompressed.get(layer.digest)
    return out


def cache_json(
    entry: CacheEntry,
    *,
    unreferenced_bytes: int | None = None,
    layers: bool = False,
    uncompressed: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A row of ``ls --json`` / ``inspect --json``."""
    out: dict[str, Any] = {
        "source": entry.source,
        "store": entry.kind,
        "tag": entry.tag,
        "digest": entry.digest,
    }
    analysis = entry.analysis
    if analysis is None:
        out["error"] = entry.error
        return out
    out.update(analysis_json(analysis))
    out["format"] = format_name(entry.kind, analysis.document)
    out["unreferenced_bytes"] = unreferenced_bytes
    if layers:
        out["layers"] = [layer_json(layer, uncompressed) for layer in analysis.layers]
    return out


def analysis_json(analysis: CacheAnalysis) -> dict[str, Any]:
    document = analysis.document
    minmax = analysis.minmax
    return {
        "format": str(document.format),
        "media_type": document.top.media_type,
        "is_cache": document.is_cache,
        "config_digest": document.config_descriptor.digest if document.config_descriptor else None,
        "compression": list(analysis.compression),
        "layer_count": analysis.layer_count,
        "record_count": analysis.record_count,
        "records_with_results": analysis.records_with_results,
        "size_bytes": analysis.size_bytes,
        # An image has no cache records: the min-versus-max figures do not apply (null, as the
        # text output's "-").
        "min_size_bytes": minmax.min_bytes if document.is_cache else None,
        "max_over_min_bytes": minmax.delta_bytes if document.is_cache else None,
        "min_layer_count": len(minmax.min_digests) if document.is_cache else None,
        "intermediate_layer_count": (len(analysis.intermediate_layers) if document.is_cache
                                     else None),
        "created_oldest": format_time(analysis.created_oldest),
        "created_newest": format_time(analysis.created_newest),
    }
