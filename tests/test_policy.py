"""Retention rules: parsing, and how --older-than/--keep/--match/--exclude/--max-size/--protect combine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cachetui.config import parse_config
from cachetui.errors import InvalidInput
from cachetui.ops.policy import (
    DEFAULT_GRACE,
    Candidate,
    Policy,
    evaluate,
    override,
    parse_duration,
    parse_size,
    policy_from_config,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def selected(policy: Policy, candidates: list[Candidate], **kwargs: object) -> list[str]:
    return [d.tag for d in evaluate(policy, candidates, now=NOW, **kwargs)  # type: ignore[arg-type]
            if d.selected]


@pytest.mark.parametrize(("text", "seconds"), [
    ("14d", 14 * 86400), ("12h", 43200), ("10m", 600), ("0s", 0), ("2w", 14 * 86400),
    ("1.5h", 5400), (" 3D ", 3 * 86400),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "14", "d", "14x", "-1d", "1 day", "1e3s"])
def test_bad_durations_name_the_option(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"--older-than: .* is not a duration"):
        parse_duration(text, option="--older-than")


@pytest.mark.parametrize(("text", "value"), [
    ("20GiB", 20 * 1024**3), ("500MB", 500 * 1000**2), ("1024", 1024), ("1.5K", 1536),
    ("2g", 2 * 1024**3), ("7b", 7), ("3 MiB", 3 * 1024**2),
])
def test_sizes(text: str, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "GiB", "20XB", "-5MB", "20 gigs", "1ib"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"--max-size: .* is not a size"):
        parse_size(text, option="--max-size")


def test_older_than_uses_newest_createdat_and_never_selects_unknown_ages() -> None:
    candidates = [Candidate("old", days_ago(30)), Candidate("new", days_ago(2)),
                  Candidate("unknown", None)]
    decisions = evaluate(Policy(older_than=timedelta(days=14)), candidates, now=NOW)
    assert [d.selected for d in decisions] == [True, False, False]
    assert decisions[0].rule == "older-than 2w"
    assert "30.0 days old" in decisions[0].reason


def test_keep_newest_n_per_match_pattern() -> None:
    candidates = [Candidate(f"pr-{i}", days_ago(i)) for i in range(1, 6)]
    candidates += [Candidate(f"main-{i}", days_ago(i)) for i in range(1, 4)]
    policy = Policy(keep=2, match=("pr-*", "main-*"))
    assert selected(policy, candidates) == ["pr-3", "pr-4", "pr-5", "main-3"]
    decisions = {d.tag: d for d in evaluate(policy, candidates, now=NOW)}
    assert decisions["pr-1"].reason == "#1 newest of 'pr-*'"
    assert decisions["pr-5"].rule == "keep 2"


def test_keep_and_older_than_both_must_hold() -> None:
    candidates = [Candidate(f"t{i}", days_ago(i * 10)) for i in range(5)]  # 0, 10, 20, 30, 40 days
    policy = Policy(keep=3, older_than=timedelta(days=15))
    # The 3 newest (t0, t1, t2) stay; of the rest, only those older than 15 days go.
    assert selected(policy, candidates) == ["t3", "t4"]
    assert selected(Policy(keep=1, older_than=timedelta(days=35)), candidates) == ["t4"]


def test_protect_and_exclude_always_win() -> None:
    candidates = [Candidate("buildcache", days_ago(100)), Candidate("keepme-1", days_ago(100)),
                  Candidate("other", days_ago(100))]
    policy = Policy(older_than=timedelta(days=1), protect=("buildcache",), exclude=("keepme-*",))
    decisions = evaluate(policy, candidates, named=["buildcache", "keepme-1"], now=NOW)
    assert [d.selected for d in decisions] == [False, False, True]
    assert decisions[0].rule == "protect"
    assert decisions[1].rule == "exclude"
    assert "keepme-*" in decisions[1].reason


def test_match_alone_selects_matched_tags_and_keeps_the_rest() -> None:
    candidates = [Candidate("pr-1", days_ago(1)), Candidate("main", days_ago(1))]
    decisions = evaluate(Policy(match=("pr-*",)), candidates, now=NOW)
    assert [d.selected for d in decisions] == [True, False]
    assert decisions[1].reason == "matches no --match pattern"


def test_named_tags_are_selected_without_rules() -> None:
    candidates = [Candidate("a", None), Candidate("b", days_ago(1))]
    assert selected(Policy(), candidates, named=["a"]) == ["a"]
    assert selected(Policy(), candidates) == []


def test_max_size_deletes_oldest_first_until_shared_bytes_fit() -> None:
    base = {"sha256:base": 100}
    candidates = [
        Candidate("newest", days_ago(1), {**base, "sha256:n": 50}),
        Candidate("middle", days_ago(5), {**base, "sha256:m": 50}),
        Candidate("oldest", days_ago(9), {**base, "sha256:o": 50}),
        Candidate("unknown", None, {**base, "sha256:u": 50}),
    ]
    # Total unique bytes 300; the shared base counts once. A budget of 200 removes the two
    # oldest (unknown age counts as oldest): 300 → 250 → 200.
    decisions = evaluate(Policy(max_size=200), candidates, now=NOW)
    assert [d.tag for d in decisions if d.selected] == ["oldest", "unknown"]
    assert all(d.rule.startswith("max-size") for d in decisions if d.selected)
    # Protected tags are never deleted even when the budget cannot be met.
    assert selected(Policy(max_size=0, protect=("newest",)), candidates) == [
        "middle", "oldest", "unknown"]
    assert selected(Policy(max_size=10_000), candidates) == []


def test_max_size_counts_tags_other_rules_already_selected() -> None:
    candidates = [Candidate("a", days_ago(1), {"sha256:a": 100}),
                  Candidate("b", days_ago(20), {"sha256:b": 100}),
                  Candidate("c", days_ago(3), {"sha256:c": 100})]
    policy = Policy(older_than=timedelta(days=10), max_size=100)
    assert selected(policy, candidates) == ["b", "c"]


def test_named_policies_from_the_config_file() -> None:
    config = parse_config("""
[policies.nightly]
older_than = "14d"
keep = 3
match = ["buildcache-*"]
exclude = ["buildcache-main"]
max_size = "20GiB"
protect = ["buildcache"]
grace = "1h"
include_shared_tags = true
""")
    policy = policy_from_config(config, "nightly")
    assert policy == Policy(older_than=timedelta(days=14), keep=3, match=("buildcache-*",),
                            exclude=("buildcache-main",), max_size=20 * 1024**3,
                            protect=("buildcache",), grace=timedelta(hours=1),
                            include_shared_tags=True)
    flags = override(policy, keep=5, match=(), older_than=None)
    assert flags.keep == 5
    assert flags.match == ("buildcache-*",)
    with pytest.raises(InvalidInput, match=r"no policy 'weekly'.*known: nightly"):
        policy_from_config(config, "weekly")
    bad = parse_config('[policies.x]\nmax_size = "lots"\n')
    with pytest.raises(InvalidInput, match=r"policies\.x\.max_size"):
        policy_from_config(bad, "x")


def test_policy_defaults_and_validation() -> None:
    assert Policy().grace == DEFAULT_GRACE == timedelta(minutes=10)
    assert not Policy().selects_by_rule
    with pytest.raises(InvalidInput, match="--keep"):
        Policy(keep=-1)
