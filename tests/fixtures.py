"""The one way tests find the real BuildKit exports in ``shared/fixtures``.

Path from ``$CACHETUI_FIXTURES``, else ``../shared/fixtures`` beside the checkout. A missing folder
is an error, never a skip: a suite that silently skipped the real fixtures would prove nothing.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


@cache
def fixtures_root() -> Path:
    configured = os.environ.get("CACHETUI_FIXTURES")
    root = Path(configured) if configured else REPO_ROOT.parent / "shared" / "fixtures"
    if not (root / "buildkit" / "EXPECTED.json").is_file():
        raise RuntimeError(
            f"BuildKit fixtures not found at {root}: set CACHETUI_FIXTURES to the shared/fixtures"
            " folder (tests never skip them)"
        )
    return root


def fixture_dir(group: str, name: str) -> Path:
    path = fixtures_root() / group / name
    if not path.is_dir():
        raise RuntimeError(f"fixture {group}/{name} is missing at {path}")
    return path


@cache
def expected(group: str) -> dict[str, Any]:
    """The ``EXPECTED.json`` of a fixture group (``buildkit``, ``buildkit-registry``, ...)."""
    with open(fixtures_root() / group / "EXPECTED.json", encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def layout_names(group: str) -> list[str]:
    """Names of every cache directory of a group (those listed in its EXPECTED.json)."""
    return sorted(expected(group)["fixtures"])


GROUPS = ("buildkit", "buildkit-variants", "buildkit-registry")
