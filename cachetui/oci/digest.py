"""Content digests: strict parsing, and hashing that can verify a stream while it flows.

Only ``sha256:`` + 64 lowercase hex and ``sha512:`` + 128 lowercase hex are accepted. Anything else,
in particular strings holding ``/`` or ``..``, is rejected, so a digest can always be used safely as
a file name under ``blobs/<algorithm>/``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from cachetui.errors import DigestMismatch, InvalidDigest

_VALID: Final = re.compile(r"\Asha256:[0-9a-f]{64}\Z|\Asha512:[0-9a-f]{128}\Z")
"""One match and no groups: every descriptor of every listed manifest is checked."""


class Digest(str):
    """A validated digest string such as ``sha256:9f86...``.

    A ``str`` subclass so it serialises and compares like the plain string it is.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> Digest:
        if isinstance(value, Digest):
            return value
        if not isinstance(value, str):
            raise InvalidDigest(f"digest must be a string, got {type(value).__name__}")
        if _VALID.match(value) is None:
            shown = value if len(value) <= 80 else value[:77] + "..."
            raise InvalidDigest(
                f"invalid digest {shown!r}: expected sha256: and 64 lowercase hex digits"
            )
        return super().__new__(cls, value)

    @property
    def algorithm(self) -> str:
        return self.split(":", 1)[0]

    @property
    def hex(self) -> str:
        return self.split(":", 1)[1]

    @property
    def short(self) -> str:
        """The first 12 hex digits, as docker and crane show digests."""
        return self.hex[:12]

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}")


def is_digest(value: str) -> bool:
    """Whether ``value`` is a valid digest, without raising."""
    return _VALID.match(value) is not None


class Verifier:
    """Hashes chunks as they pass and checks digest and size at the end.

    Used on every blob read and write, so corrupt or truncated content is never accepted.
    """

    __slots__ = ("_expected", "_hash", "_size", "_where", "received")

    def __init__(self, expected: Digest, size: int | None, *, where: str = "") -> None:
        self._expected = expected
        self._size = size
        self._hash = hashlib.new(expected.algorithm)
        self._where = where or f"blob {expected.short}"
        self.received = 0

    def update(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self._size is not None and self.received > self._size:
            raise DigestMismatch(
                f"more bytes than the declared size {self._size}", where=self._where
            )
        self._hash.update(chunk)

    def resume_state(self) -> tuple[int, object]:
        """Byte count and a copy of the hash, to restart a broken download at that offset."""
        return self.received, self._hash.copy()

    def digest(self) -> Digest:
        return Digest(f"{self._expected.algorithm}:{self._hash.hexdigest()}")

    def verify(self) -> None:
        """Raise :class:`DigestMismatch` unless everything seen matches digest and size."""
        if self._size is not None and self.received != self._size:
            raise DigestMismatch(
                f"size is {self.received} bytes, expected {self._size}", where=self._where
            )
        actual = self.digest()
        if actual != self._expected:
            raise DigestMismatch(
                f"content digest is {actual.short}, expected {self._expected.short}",
                where=self._where,
            )


def verify_bytes(data: bytes, expected: Digest, size: int | None, *, where: str = "") -> None:
    """Check a whole in-memory blob against its digest and size."""
    verifier = Verifier(expected, size, where=where)
    verifier.update(data)
    verifier.verify()
