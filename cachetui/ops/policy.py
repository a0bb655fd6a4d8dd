"""Retention rules, evaluated without I/O: which tags of one source a prune selects, and why.

How the rules combine (peers.md §2.15: users could not predict this in other tools, so it is spelt
out and every decision carries its reason):

1. ``--protect`` and ``--exclude`` always win: such a tag is never selected, by any rule.
2. ``--match`` (if given) limits the candidates; unmatched tags are kept.
3. Explicitly named tags (``DIR:TAG``, TUI marks) are selected as they are.
4. ``--older-than`` selects candidates whose newest ``buildkit/createdat`` is older than the cut;
   ``--keep N`` keeps the N newest candidates per ``--match`` pattern (one group without
   ``--match``) and selects the rest. With both, a tag must be old AND outside the newest N.
   With neither (and a ``--match``), every matched tag is selected.
5. ``--max-size`` then selects further candidates, oldest first, until the bytes the surviving tags
   use fit in the budget.

A tag whose age is unknown is never selected by ``--older-than`` and counts as the oldest for
``--keep`` and ``--max-size``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from cachetui.config import Config, PolicyConfig
from cachetui.errors import InvalidInput

DEFAULT_GRACE: Final = timedelta(minutes=10)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_DURATION_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_SIZE_UNITS: Final = {
    "": 1, "b": 1,
    "k": 1024, "ki": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mi": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gi": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "ti": 1024**4, "tib": 1024**4, "tb": 1000**4,
}


def parse_duration(text: str, *, option: str = "duration") -> timedelta:
    """``14d``, ``12h``, ``10m``, ``30s``, ``2w`` (also ``0s``) as a timedelta."""
    found = _DURATION.match(text)
    if found is None:
        raise InvalidInput(f"{option}: {text!r} is not a duration; use a number and a unit "
                           "s, m, h, d or w, like 14d, 12h or 10m")
    return timedelta(seconds=float(found.group(1)) * _DURATION_UNITS[found.group(2).lower()])


def parse_size(text: str, *, option: str = "size") -> int:
    """``20GiB``, ``500MB``, ``1.5G``, ``1024`` as bytes (K/M/G/T without ``B`` are binary)."""
    found = _SIZE.match(text)
    unit = found.group(2).lower() if found else None
    if found is None or unit not in _SIZE_UNITS:
        raise InvalidInput(f"{option}: {text!r} is not a size; use a number and a unit like "
                           "500MiB, 20GiB or 2GB")
    return int(float(found.group(1)) * _SIZE_UNITS[unit])


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_size(value: int) -> str:
    """Exact enough for a rule label: ``20GiB``, ``1.5MiB``, ``900B``."""
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024:
            return f"{amount:.4g}{unit}"
        amount /= 1024
    return f"{amount:.4g}TiB"


@dataclass(frozen=True, slots=True)
class Policy:
    """A complete set of rules (from flags, a named policy, or both)."""

    older_than: timedelta | None = None
    keep: int | None = None
    match: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_size: int | None = None
    protect: tuple[str, ...] = ()
    grace: timedelta = DEFAULT_GRACE
    include_shared_tags: bool = False
    include_inline_images: bool = False
    """Let rules select images that carry inline cache. They are the shipped application images
    (``--cache-to type=inline``), so by default they are kept like any other image."""

    def __post_init__(self) -> None:
        if self.keep is not None and self.keep < 0:
            raise InvalidInput(f"--keep: {self.keep} is negative")
        if self.max_size is not None and self.max_size < 0:
            raise InvalidInput("--max-size: negative size")
        if self.grace < timedelta(0) or (self.older_than is not None
                                         and self.older_than < timedelta(0)):
            raise InvalidInput("durations must not be negative")

    @property
    def selects_by_rule(self) -> bool:
        """Whether any rule can select tags (otherwise only named tags are pruned)."""
        return bool(self.older_than is not None or self.keep is not None or self.match
                    or self.max_size is not None)

    def describe(self) -> str:
        parts = []
        if self.older_than is not None:
            parts.append(f"older-than {format_duration(self.older_than)}")
        if self.keep is not None:
            parts.append(f"keep {self.keep}")
        parts += [f"match {glob}" for glob in self.match]
        parts += [f"exclude {glob}" for glob in self.exclude]
        if self.max_size is not None:
            parts.append(f"max-size {format_size(self.max_size)}")
        parts += [f"protect {tag}" for tag in self.protect]
        if self.include_inline_images:
            parts.append("including images with inline cache")
        return ", ".join(parts) or "named tags only"


def policy_from_config(config: Config, name: str) -> Policy:
    """A named ``[policies.NAME]`` of the config file; unknown names list the known ones."""
    found = config.policies.get(name)
    if found is None:
        known = ", ".join(sorted(config.policies)) or "none defined"
        raise InvalidInput(f"--policy: no policy {name!r} in the config (known: {known})")
    return _from_policy_config(found, where=f"policies.{name}")


def _from_policy_config(found: PolicyConfig, *, where: str) -> Policy:
    return Policy(
        older_than=(parse_duration(found.older_than, option=f"{where}.older_than")
                    if found.older_than else None),
        keep=found.keep,
        match=tuple(found.match),
        exclude=tuple(found.exclude),
        max_size=parse_size(found.max_size, option=f"{where}.max_size") if found.max_size else None,
        protect=tuple(found.protect),
        grace=parse_duration(found.grace, option=f"{where}.grace") if found.grace else DEFAULT_GRACE,
        include_shared_tags=found.include_shared_tags,
        include_inline_images=found.include_inline_images,
    )


def override(base: Policy, **changes: object) -> Policy:
    """``base`` with the flags the user gave on top (``None``/empty means not given)."""
    given = {key: value for key, value in changes.items() if value not in (None, (), [])}
    return replace(base, **given)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Candidate:
    """What rule evaluation needs to know about one tag."""

    tag: str
    created: datetime | None
    """Newest ``buildkit/createdat`` of the cache (``CacheAnalysis.created_newest``)."""
    blobs: Mapping[str, int] = field(default_factory=dict)
    """Digest → size of every blob the tag reaches (for ``--max-size``)."""


@dataclass(frozen=True, slots=True)
class Decision:
    tag: str
    selected: bool
    rule: str
    """The rule that decided: ``older-than 14d``, ``keep 3``, ``max-size``, ``named``, ``protect``..."""
    reason: str


def _matches(tag: str, globs: Iterable[str]) -> str | None:
    return next((glob for glob in globs if fnmatch.fnmatchcase(tag, glob)), None)


def _age_key(candidate: Candidate) -> tuple[float, str]:
    """Sort key: newest first; unknown ages last (counted as oldest)."""
    stamp = candidate.created.timestamp() if candidate.created is not None else float("-inf")
    return (-stamp, candidate.tag)


def _age_text(created: datetime | None, now: datetime) -> str:
    if created is None:
        return "age unknown"
    days = (now - created).total_seconds() / 86400
    return f"newest layer {created:%Y-%m-%d %H:%M}, {days:.1f} days old"


def evaluate(policy: Policy, candidates: Sequence[Candidate], *, named: Iterable[str] = (),
             now: datetime | None = None) -> list[Decision]:
    """One decision per candidate (in input order) for one source."""
    now = now or datetime.now(UTC)
    named_set = set(named)
    decisions: dict[str, Decision] = {}
    eligible: list[Candidate] = []
    for candidate in candidates:
        tag = candidate.tag
        protected = _matches(tag, policy.protect)
        excluded = _matches(tag, policy.exclude)
        if protected is not None:
            decisions[tag] = Decision(tag, False, "protect", f"protected by --protect {protected}")
        elif excluded is not None:
            decisions[tag] = Decision(tag, False, "exclude", f"excluded by --exclude {excluded}")
        elif tag in named_set:
            decisions[tag] = Decision(tag, True, "named", "named explicitly")
        elif policy.match and _matches(tag, policy.match) is None:
            decisions[tag] = Decision(tag, False, "match", "matches no --match pattern")
        else:
            eligible.append(candidate)

    rank: dict[str, tuple[int, str]] = {}
    if policy.keep is not None:
        groups: dict[str, list[Candidate]] = {}
        for candidate in eligible:
            pattern = _matches(candidate.tag, policy.match) if policy.match else "*"
            groups.setdefault(pattern or "*", []).append(candidate)
        for pattern, members in groups.items():
            for position, candidate in enumerate(sorted(members, key=_age_key)):
                rank[candidate.tag] = (position, pattern)

    cut = now - policy.older_than if policy.older_than is not None else None
    for candidate in eligible:
        tag = candidate.tag
        reasons: list[str] = []
        old = True
        if cut is not None:
            old = candidate.created is not None and candidate.created < cut
            label = f"older-than {format_duration(policy.older_than or timedelta())}"
            if not old:
                decisions[tag] = Decision(tag, False, label,
                                          f"not older than the cut ({_age_text(candidate.created, now)})")
                continue
            reasons.append(_age_text(candidate.created, now))
        if policy.keep is not None:
            position, pattern = rank[tag]
            if position < policy.keep:
                decisions[tag] = Decision(tag, False, f"keep {policy.keep}",
                                          f"#{position + 1} newest of {pattern!r}")
                continue
            reasons.append(f"#{position + 1} newest of {pattern!r}")
        if cut is None and policy.keep is None:
            if not policy.match or policy.max_size is not None:
                decisions[tag] = Decision(tag, False, "none", "no rule selects it")
                continue
            reasons.append(f"matches {_matches(tag, policy.match)}")
        rules = [r for r, on in ((f"older-than {format_duration(policy.older_than or timedelta())}",
                                  cut is not None),
                                 (f"keep {policy.keep}", policy.keep is not None),
                                 ("match", cut is None and policy.keep is None))
                 if on]
        decisions[tag] = Decision(tag, True, " + ".join(rules), "; ".join(reasons))

    if policy.max_size is not None:
        _apply_budget(policy.max_size, candidates, eligible, decisions)
    return [decisions[candidate.tag] for candidate in candidates]


def _apply_budget(budget: int, candidates: Sequence[Candidate], eligible: Sequence[Candidate],
                  decisions: dict[str, Decision]) -> None:
    """Select surviving eligible tags, oldest first, until the survivors' unique bytes fit."""
    uses: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for candidate in candidates:
        if not decisions[candidate.tag].selected:
            for digest, size in candidate.blobs.items():
                uses[digest] = uses.get(digest, 0) + 1
                sizes[digest] = size
    total = sum(sizes.values())
    for candidate in sorted(eligible, key=_age_key, reverse=True):
        if total <= budget:
            break
        if decisions[candidate.tag].selected:
            continue
        before = total
        for digest in candidate.blobs:
            uses[digest] -= 1
            if uses[digest] == 0:
                total -= sizes[digest]
        decisions[candidate.tag] = Decision(
            candidate.tag, True, f"max-size {format_size(budget)}",
            f"oldest first: survivors used {format_size(before)}, over the budget")
