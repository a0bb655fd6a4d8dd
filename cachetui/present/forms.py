"""How a cache's form is named for people: the store it lives in decides, not only the bytes.

s3 and azblob keep BuildKit's annotated cache config as a plain object (``manifests/<name>``,
layers described by annotations) and the GitHub Actions cache keeps the same JSON as an index
entry (``index-<scope>-1-<h>#<N>``); cachetui reads both into an OCI form to analyse them, but
calling them "image-manifest" would name a registry form the store never held. The CLI (``ls``,
``inspect``, ``--json``) and the TUI (the cache table, the cache screen) name forms only here.
"""

from __future__ import annotations

from typing import Final

from cachetui.buildkit.document import CacheDocument
from cachetui.store.base import StoreKind

ANNOTATED: Final = "annotated"
GHA_INDEX: Final = "gha-index"
OWN_FORMS: Final[dict[str, str]] = {"s3": ANNOTATED, "azblob": ANNOTATED, "gha": GHA_INDEX}
"""Stores whose form is their own, whatever OCI form cachetui reads them into."""
NOTES: Final[dict[str, str]] = {
    ANNOTATED: "BuildKit cache config with layer annotations",
    GHA_INDEX: "BuildKit cache config with layer annotations, in an Actions cache index entry",
}
SHORT: Final[dict[str, str]] = {"image-manifest": "manifest", "docker-list": "docker"}
"""Narrow-column names (the TUI's Form column) of the OCI forms; the others are short already."""


def format_name(kind: StoreKind | str, document: CacheDocument, *, short: bool = False) -> str:
    """``annotated`` for an s3/azblob cache, ``gha-index`` for a gha cache, else the document's
    own form (``short``: ``manifest`` for ``image-manifest``, ``docker`` for ``docker-list``)."""
    own = OWN_FORMS.get(kind)
    if own is not None:
        return own
    form = str(document.format)
    return SHORT.get(form, form) if short else form


def format_detail(kind: StoreKind | str, document: CacheDocument) -> str:
    """What is stored, for ``inspect``: the media type, or what the store's own object is."""
    own = OWN_FORMS.get(kind)
    return NOTES[own] if own is not None else document.top.media_type


def unreferenced_place(kind: StoreKind | str) -> str:
    """Where unreferenced blobs were counted: the directory, or the store's key prefix."""
    return "under the prefix" if OWN_FORMS.get(kind) == ANNOTATED else "in the directory"
