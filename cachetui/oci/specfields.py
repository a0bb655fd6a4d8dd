"""The ``key=value`` fields of a buildx cache spec (``type=s3,bucket=b,name=main``), split as buildx
splits them: CSV, so a value may be quoted. Every parser of specs (locations, the object-store and
gha openers) uses this one splitter. Its errors never repeat the spec or a field: a spec can carry a
credential (``secret_access_key=...``), and a comma inside one splits it into fields."""

from __future__ import annotations

import csv

from cachetui.errors import InvalidInput


def split_spec_fields(text: str) -> dict[str, str]:
    """The fields of ``text`` as a dict with lower-case keys; :class:`InvalidInput` when a field is
    not ``key=value`` (named by its position only)."""
    try:
        fields = next(csv.reader([text.strip()]))
    except (csv.Error, StopIteration) as exc:
        raise InvalidInput(f"invalid cache spec: {exc}") from None
    attrs: dict[str, str] = {}
    for position, item in enumerate(fields, 1):
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise InvalidInput(f"invalid cache spec: field {position} is not key=value (the spec "
                               "is not repeated: it may hold a credential)")
        attrs[key] = value.strip()
    return attrs
