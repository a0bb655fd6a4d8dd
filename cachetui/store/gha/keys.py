"""BuildKit's gha key grammar (``cache/remotecache/gha``). Pure.

- blob entry: ``buildkit-blob-1-<digest>``
- index entry of a scope, for the git ref whose token wrote it:
  ``index-<scope>-1-<first 8 hex of sha256(ref)>[-sig]#<N>``; every export adds ``#N+1`` and an
  import reads only the newest ``#N``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

FORMAT_VERSION: Final = "1"
BLOB_PREFIX: Final = f"buildkit-blob-{FORMAT_VERSION}-"
CACHE_VERSION: Final = hashlib.sha256(b"|go-actionscache-1.0").hexdigest()
"""The ``version`` every BuildKit entry carries."""

_INDEX: Final = re.compile(
    r"\Aindex-(?P<scope>.*)-" + FORMAT_VERSION + r"-(?P<hash>[0-9a-f]{8})(?P<sig>-sig)?"
    r"#(?P<generation>[0-9]{1,9})\Z", re.DOTALL)


def ref_hash(ref: str) -> str:
    """The 8 hex digits BuildKit puts in an index key for the token's (writable) ref."""
    return hashlib.sha256(ref.encode()).hexdigest()[:8]


def index_prefix(scope: str, ref: str, *, signed: bool = False) -> str:
    """The key an import looks up (BuildKit adds ``#`` when it exports)."""
    return f"index-{scope}-{FORMAT_VERSION}-{ref_hash(ref)}" + ("-sig" if signed else "")


def index_key(scope: str, ref: str, generation: int, *, signed: bool = False) -> str:
    return f"{index_prefix(scope, ref, signed=signed)}#{generation}"


def blob_key(digest: str) -> str:
    return BLOB_PREFIX + digest


@dataclass(frozen=True, slots=True)
class IndexKey:
    scope: str
    hash: str
    signed: bool
    generation: int


def parse_index_key(key: str) -> IndexKey | None:
    match = _INDEX.match(key)
    if match is None:
        return None
    return IndexKey(match["scope"], match["hash"], bool(match["sig"]), int(match["generation"]))


def blob_digest(key: str) -> str | None:
    """The digest a blob entry holds, or ``None`` for another key."""
    if not key.startswith(BLOB_PREFIX):
        return None
    digest = key[len(BLOB_PREFIX):]
    return digest if re.fullmatch(r"sha256:[0-9a-f]{64}", digest) else None
