"""Whether a source text names a GitHub Actions cache: a test every listing command makes on
every source, kept apart from :mod:`location`'s parsing (and its imports: credentials, URL and
spec parsing, a dataclass), which only gha sources need (bench/bench_startup.py)."""

from __future__ import annotations


def is_gha(text: str) -> bool:
    return text.startswith("gha://") or attrs_type(text) == "gha"


def attrs_type(text: str) -> str | None:
    """The ``type=`` of a buildx-style spec, if it is one."""
    if "type=" not in text:
        return None
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "type":
            return value.strip()
    return None
