"""``--against REF``: the same bench, in the same run, on the ``cachetui`` of another commit
(shared by the benchmarks that print before/after figures)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def split_against(argv: list[str]) -> tuple[list[str], str | None]:
    """``argv`` without ``--against REF``, and REF (None when it is not given)."""
    if "--against" not in argv:
        return argv, None
    at = argv.index("--against")
    return argv[:at] + argv[at + 2:], argv[at + 1]


def unpack(ref: str, into: Path) -> Path:
    """The ``cachetui`` package of git ``ref`` unpacked under ``into`` (made here); ``into``,
    to put first on ``sys.path``."""
    into.mkdir()
    archive = subprocess.run(["git", "archive", ref, "cachetui"], cwd=REPO_ROOT,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into
