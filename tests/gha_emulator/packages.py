"""GitHub Packages (container package versions) and Docker Hub endpoints: filled in with the
vendor deletes; until then nothing matches and REST routing continues."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tests.gha_emulator.http import Request, Response

if TYPE_CHECKING:
    from tests.gha_emulator.emulator import GitHubEmulator, RestToken


@dataclass(slots=True)
class PackagesState:
    versions: dict[tuple[str, str], list[dict[str, object]]] = field(default_factory=dict)


def handle(emulator: GitHubEmulator, request: Request, token: RestToken,
           headers: list[tuple[str, str]]) -> Response | None:
    return None
