"""Find cache directories under a tree (CI runners keep them in odd places)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SKIP_NAMES = frozenset({"blobs", "ingest", ".git", "node_modules", "__pycache__", ".venv"})


@dataclass(slots=True)
class Discovery:
    layouts: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    """Folders that could not be listed, with the reason; reported, never fatal."""


def is_layout(path: Path) -> bool:
    """A directory with ``index.json`` and ``oci-layout`` or ``blobs/`` is a cache directory."""
    return (path / "index.json").is_file() and (
        (path / "oci-layout").is_file() or (path / "blobs").is_dir()
    )


def discover(root: str | os.PathLike[str], *, max_depth: int = 4) -> Discovery:
    """Cache directories at or under ``root``, down to ``max_depth`` levels, sorted by path."""
    found = Discovery()
    start = Path(root)
    pending: list[tuple[Path, int]] = [(start, 0)]
    while pending:
        directory, depth = pending.pop()
        if is_layout(directory):
            found.layouts.append(directory)
            continue  # a layout's own folders are blobs, not more caches
        if depth >= max_depth:
            continue
        try:
            with os.scandir(directory) as entries:
                children = [
                    Path(entry.path)
                    for entry in entries
                    if entry.name not in SKIP_NAMES and entry.is_dir(follow_symlinks=False)
                ]
        except OSError as exc:
            found.unreadable.append((directory, exc.strerror or str(exc)))
            continue
        pending.extend((child, depth + 1) for child in children)
    found.layouts.sort()
    found.unreadable.sort()
    return found
