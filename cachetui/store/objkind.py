"""Whether a source text names an s3 or azblob cache: text only, so that ``gc`` of directories
decides without loading the object stores (their HTTP stack is ~80 ms of start-up)."""

from __future__ import annotations


def is_object_location(text: str) -> bool:
    stripped = text.strip()
    if stripped.startswith(("s3://", "azblob://")):
        return True
    head = stripped.split(",", 1)[0].replace(" ", "").lower()
    return head in ("type=s3", "type=azblob")
