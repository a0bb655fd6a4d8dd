"""Image references with Docker's normalisation.

``alpine`` is ``docker.io/library/alpine:latest``; ``localhost:5000/app@sha256:...`` keeps its port and
digest. The registry part is recognised the way Docker does it: the first path component is a host
when it holds a ``.`` or a ``:`` or is ``localhost``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from cachetui.errors import InvalidInput
from cachetui.oci.digest import Digest

DOCKER_HUB: Final = "docker.io"
DOCKER_HUB_API: Final = "registry-1.docker.io"
DEFAULT_TAG: Final = "latest"

_COMPONENT: Final = re.compile(r"\A[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_TAG: Final = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9._-]{0,127}\Z")
_HOST: Final = re.compile(
    r"\A(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?\Z"
)


def looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A normalised ``registry/repository[:tag][@digest]``."""

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def api_host(self) -> str:
        """The host the distribution API is served on (Docker Hub differs from its name)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest if pinned, else the tag."""
        if self.digest is not None:
            return self.digest
        return self.tag or DEFAULT_TAG

    def with_tag(self, tag: str) -> ImageRef:
        return ImageRef(self.registry, self.repository, validate_tag(tag), None)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def validate_tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise InvalidInput(f"invalid tag {tag!r}")
    return tag


def validate_host(host: str) -> str:
    if not _HOST.match(host):
        raise InvalidInput(f"invalid registry host {host!r}")
    return host


def parse_reference(text: str, *, default_tag: bool = True) -> ImageRef:
    """Parse ``[host[:port]/]path[:tag][@digest]`` with Docker Hub normalisation.

    ``default_tag=False`` leaves ``tag`` empty when none is given (to list a repository).
    """
    original = text
    text = text.strip()
    for prefix in ("docker://", "oci://", "https://", "http://"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    if not text:
        raise InvalidInput("empty image reference")
    digest: Digest | None = None
    if "@" in text:
        text, digest_text = text.split("@", 1)
        digest = Digest(digest_text)
    first, sep, rest = text.partition("/")
    if sep and looks_like_host(first):
        registry = validate_host(first)
        path = rest
    else:
        registry = DOCKER_HUB
        path = text
    tag: str | None = None
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > last_slash:
        path, tag = path[:colon], validate_tag(path[colon + 1:])
    if registry in (DOCKER_HUB, "index.docker.io", DOCKER_HUB_API):
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    if not path:
        raise InvalidInput(f"invalid image reference {original!r}: no repository")
    for component in path.split("/"):
        if not _COMPONENT.match(component):
            raise InvalidInput(
                f"invalid image reference {original!r}: bad repository component {component!r}"
            )
    if len(path) > 255:
        raise InvalidInput(f"invalid image reference {original!r}: repository name too long")
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return ImageRef(registry=registry, repository=path, tag=tag, digest=digest)
