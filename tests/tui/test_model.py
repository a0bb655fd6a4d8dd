"""The main screen's view model: filter, sort order, compact formats (no Textual needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cachetui.ops.inventory import CacheEntry
from cachetui.tui.model import Marks, Row, SortKey, compact_age, compact_size, matches, sort_rows


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
