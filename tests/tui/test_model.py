"""The main screen's view model: filter, sort order, compact formats (no Textual needed)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from cachetui.ops.inventory import CacheEntry
from cachetui.tui.model import (
    Marks,
    Row,
    SortKey,
    SortMemo,
    compact_age,
    compact_age_until,
    compact_size,
    matches,
    sort_rows,
)


def _row(tag: str, error: str | None = None) -> Row:
    return Row(f"src\t{tag}", "src", CacheEntry("/ci/cache", "directory", tag, None, error))


def test_filter_substring_and_negation() -> None:
    row = _row("feature-login", "broken index")
    assert matches(row, "login")
    assert matches(row, "LOGIN")
    assert not matches(row, "!login")
    assert matches(row, "!release")
    assert matches(row, "") and matches(row, "!")


def test_error_rows_sort_last_by_name() -> None:
    rows = [_row("b", "x"), _row("a", "y")]
    assert [r.name for r in sort_rows(rows, SortKey.SIZE, True, {})] == ["a", "b"]


def test_compact_formats() -> None:
    now = datetime(2026, 1, 10, tzinfo=UTC)
    assert compact_size(512) == "512B"
    assert compact_size(1536) == "1.5K"
    assert compact_size(None) == "-"
    assert compact_age(now - timedelta(hours=5), now) == "5h ago"
    assert compact_age(now - timedelta(days=3), now) == "3d ago"
    assert compact_age(None, now) == "-"


def test_marks_keep_order() -> None:
    marks = Marks()
    assert marks.toggle("a") and marks.toggle("b")
    assert not marks.toggle("a")
    assert marks.keys == ["b"]


def test_compact_age_holds_until_the_moment_it_names() -> None:
    """The table makes an age text again only once it changes: the text is the same at every
    moment before ``until`` and differs at ``until``, at every unit's scale."""
    created = datetime(2026, 1, 1, tzinfo=UTC)
    offsets = [timedelta(seconds=s) for s in (-5, 0, 59, 60, 61, 3599, 3600, 86399, 86400)]
    offsets += [timedelta(days=d, seconds=7) for d in (1, 59, 60, 61, 89, 90, 729, 730, 1500)]
    for offset in offsets:
        now = created + offset
        text, until = compact_age_until(created, now)
        assert text == compact_age(created, now)
        assert until is not None and until > now, offset
        for before in (now, now + (until - now) / 2, until - timedelta(microseconds=1)):
            assert compact_age(created, before) == text, (offset, before)
        assert compact_age(created, until) != text, offset
    assert compact_age_until(None, created) == ("-", None)


def _good(tag: str, source: str, size: int) -> Row:
    analysis = SimpleNamespace(size_bytes=size)  # only what the size and name sorts read
    return Row(f"{source}\t{tag}", source,
               CacheEntry(source, "directory", tag, analysis))  # type: ignore[arg-type]


def test_sort_memo_gives_the_same_order_and_follows_new_answers() -> None:
    rows = [_good(f"t{i}", f"s{i % 3}", (i * 7) % 5) for i in range(12)] + [_row("bad", "x")]
    memo: SortMemo = {}
    for key, reverse in ((SortKey.SIZE, True), (SortKey.NAME, False), (SortKey.SIZE, False)):
        assert sort_rows(rows, key, reverse, {}, memo) == sort_rows(rows, key, reverse, {})
    biggest = dataclasses.replace(rows[0], entry=dataclasses.replace(
        rows[0].entry, analysis=_good("t0", "s0", 99).entry.analysis))  # a new answer
    rows[0] = biggest
    assert sort_rows(rows, SortKey.SIZE, True, {}, memo)[0] is biggest
    assert sort_rows(rows, SortKey.SIZE, True, {}, memo) == sort_rows(rows, SortKey.SIZE, True, {})
