"""Scans of several stores sharing one memo: each config is read once, and a read that failed in
one store does not decide another store's answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cachetui.ops.inventory import collect, scan_store
from cachetui.ops.load import DocumentMemo
from cachetui.store.layout import LayoutStore
from tests.prune_support import copy_fixture


async def test_a_config_missing_in_one_store_is_still_read_from_the_other(tmp_path: Path) -> None:
    broken = LayoutStore(copy_fixture("local-min", tmp_path / "broken"))
    healthy = LayoutStore(copy_fixture("local-min", tmp_path / "healthy"))
    top = await broken.get_manifest("latest")
    for child in top.children():  # every blob the manifest names: the config read must fail
        broken.blob_path(child.digest).unlink()
    for _ in range(5):  # whichever store meets the manifest first, in either order
        for first, second in ((broken, healthy), (healthy, broken)):
            memo = DocumentMemo()
            results = await asyncio.gather(collect(scan_store(first, memo=memo)),
                                           collect(scan_store(second, memo=memo)))
            [good] = results[(first, second).index(healthy)][0]
            assert good.error is None
            assert good.analysis is not None and good.analysis.document.is_cache
            assert memo.loading == {}  # nothing in flight is kept once the scans are done
    # Alone, the broken store's tag is an error, not a crash.
    [bad], _, _ = await collect(scan_store(broken, memo=DocumentMemo()))
    assert bad.error is not None and bad.analysis is None
