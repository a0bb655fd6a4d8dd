"""What the emulated GitHub holds: cache entries per repository and ref, and blob storage."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

CACHE_VERSION = "693bb7016429d80366022f036f84856888c9f13e00145f5f6f4dce303a38d6f2"
"""sha256 of ``|go-actionscache-1.0``: every BuildKit entry carries it."""


def iso_ms(moment: datetime) -> str:
    """GitHub's timestamp form: ``2026-11-30T03:48:55.920Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(slots=True)
class Entry:
    id: int
    key: str
    version: str
    ref: str
    created_at: datetime
    last_accessed_at: datetime
    api: str
    size: int = 0
    committed: bool = False
    blob_name: str = ""
    """Where the bytes live in :class:`BlobStore` (v2 and loaded entries)."""
    v1_data: bytearray = field(default_factory=bytearray)
    """Bytes a v1 upload has PATCHed so far, before commit."""

    def rest_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "ref": self.ref,
            "key": self.key,
            "version": self.version,
            "last_accessed_at": iso_ms(self.last_accessed_at),
            "created_at": iso_ms(self.created_at),
            "size_in_bytes": self.size,
        }


@dataclass(slots=True)
class StoredBlob:
    data: bytes
    created: datetime
    modified: datetime
    etag: str
    blocks: dict[str, bytes] = field(default_factory=dict)


class BlobStore:
    """Block blobs by name in one container (what the SAS URLs point at)."""

    def __init__(self) -> None:
        self.blobs: dict[str, StoredBlob] = {}
        self.staged: dict[str, dict[str, bytes]] = {}
        self._etags = itertools.count(0x1E5CEEC06305AE0, 0x1357911)

    def next_etag(self) -> str:
        return f'"0x{next(self._etags):X}"'


@dataclass(slots=True)
class Repository:
    full_name: str
    entries: list[Entry] = field(default_factory=list)

    def committed(self) -> list[Entry]:
        return [entry for entry in self.entries if entry.committed]
