"""How a cache's form is named for people: the store it lives in decides, not only the bytes.

s3 and azblob keep BuildKit's annotated cache config as a plain object (``manifests/<name>``,
layers described by annotations); cachetui reads it into an OCI form to analyse it, but calling
it "image-manifest" would name a registry form the store never held.
"""

from __future__ import annotations

from typing import Final

from cachetui.buildkit.document import CacheDocument
from cachetui.store.base import StoreKind

ANNOTATED: Final = "annotated"
ANNOTATED_NOTE: Final = "BuildKit cache config with layer annotations"
ANNOTATED_KINDS: Final[frozenset[str]] = frozenset({"s3", "azblob"})


def format_name(kind: StoreKind, document: CacheDocument) -> str:
    """``annotated`` for an object-store cache, else the document's own form."""
    return ANNOTATED if kind in ANNOTATED_KINDS else str(document.format)


def format_detail(kind: StoreKind, document: CacheDocument) -> str:
    """What is stored, for ``inspect``: the media type, or what an annotated object is."""
    return ANNOTATED_NOTE if kind in ANNOTATED_KINDS else document.top.media_type


def unreferenced_place(kind: StoreKind) -> str:
    """Where unreferenced blobs were counted: the directory, or the store's key prefix."""
    return "under the prefix" if kind in ANNOTATED_KINDS else "in the directory"
