"""Which columns of a table show, and how wide, for the room a terminal gives.

Shared by the cache table and the layers table: columns join in order of usefulness while they
fit (flexible ones at their minimum), then what is left widens the flexible ones up to their
content, so nothing is cut while room stays empty and the least useful columns hide first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rich.text import Text

CELL_PADDING = 2
"""A DataTable column takes one cell of padding on each side."""
FLEX_CAP = 48

Layout = tuple[tuple[int, int], ...]
"""(column index, width) of the shown columns, in display order."""


def natural_widths(titles: Sequence[str], rows: Iterable[Sequence[Text | str]]) -> list[int]:
    """The width each column needs to show its title and every cell whole."""
    widths = [len(title) for title in titles]
    for cells in rows:
        for index, cell in enumerate(cells):
            length = cell.cell_len if isinstance(cell, Text) else len(cell)
            if length > widths[index]:
                widths[index] = length
    return widths


def fit_columns(natural: Sequence[int], keep_order: Sequence[int], flexible: Mapping[int, int],
                available: int, *, cap: int = FLEX_CAP) -> Layout:
    """The layout for ``available`` cells: ``keep_order`` lists column indices most useful
    first; ``flexible`` maps a column index to the width it may be cut down to."""
    widths: dict[int, int] = {}
    used = 0
    for index in keep_order:
        width = min(natural[index], flexible.get(index, natural[index]))
        if used + width + CELL_PADDING <= available or not widths:
            widths[index] = width
            used += width + CELL_PADDING
    for index in flexible:
        if index in widths:
            wanted = min(natural[index], cap)
            grow = max(0, min(wanted - widths[index], available - used))
            widths[index] += grow
            used += grow
    return tuple((index, widths[index]) for index in sorted(widths))
