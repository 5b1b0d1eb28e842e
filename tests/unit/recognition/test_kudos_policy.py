"""The kudos policy: refusing a member's own bad request, and judging every recipient in order
(self, value tag, duplicate, allowance), with the allowance handed out in judging order."""

from datetime import UTC, datetime

import pytest

from services.recognition.domain.kudos import (
    AllowanceEntry,
    KudosPolicy,
    PolicyViolation,
    allot,
    verdicts,
)
from shared.events.catalog import KudosVerdict as V

POLICY = KudosPolicy(
    allowance=3, period="month", value_tags=frozenset({"mentoring", "knowledge_sharing"})
)


def judged(from_id: str, to_ids: list[str], tag: str, left: int = 3) -> list[tuple[str, V]]:
    screened = POLICY.screen(from_id, to_ids, tag)
    eligible = tuple(m for m, reason in screened if reason is None)
    counted = allot([AllowanceEntry("k", eligible)], left)["k"]
    return [(v.member_id, v.verdict) for v in verdicts(screened, counted)]


def test_distinct_other_recipients_are_counted_in_order() -> None:
    assert judged("g", ["a", "b"], "mentoring") == [("a", V.COUNTED), ("b", V.COUNTED)]


def test_self_comes_before_an_unknown_tag() -> None:
    assert judged("g", ["g", "a"], "bogus") == [("g", V.SELF_KUDOS), ("a", V.UNKNOWN_VALUE_TAG)]


def test_an_unknown_tag_comes_before_a_duplicate() -> None:
    assert judged("g", ["a", "a"], "bogus") == [
        ("a", V.UNKNOWN_VALUE_TAG),
        ("a", V.UNKNOWN_VALUE_TAG),
    ]


def test_a_repeated_recipient_is_a_duplicate_and_uses_no_allowance() -> None:
    assert judged("g", ["a", "a", "b"], "mentoring", left=2) == [
        ("a", V.COUNTED),
        ("a", V.DUPLICATE_RECIPIENT),
        ("b", V.COUNTED),
    ]


def test_a_duplicate_comes_before_the_allowance() -> None:
    assert judged("g", ["a", "a"], "mentoring", left=0) == [
        ("a", V.ALLOWANCE_EXHAUSTED),
        ("a", V.DUPLICATE_RECIPIENT),
    ]


def test_recipients_beyond_the_allowance_are_exhausted() -> None:
    assert judged("g", ["a", "b", "c"], "mentoring", left=2) == [
        ("a", V.COUNTED),
        ("b", V.COUNTED),
        ("c", V.ALLOWANCE_EXHAUSTED),
    ]


def test_allowance_follows_the_judging_order_and_ignores_a_repeated_entry() -> None:
    entries = [
        AllowanceEntry("k1", ("a", "b")),
        AllowanceEntry("k2", ("c", "d")),
        AllowanceEntry("k1", ("a", "b")),  # a redelivery appended again
        AllowanceEntry("k3", ("e",)),
    ]
    assert allot(entries, 3) == {"k1": ("a", "b"), "k2": ("c",), "k3": ()}


def test_allotting_again_gives_the_same_answer() -> None:
    entries = [AllowanceEntry(f"k{i}", (f"m{i}",)) for i in range(30)]
    assert allot(entries, 20) == allot(list(entries), 20)
    assert sum(len(c) for c in allot(entries, 20).values()) == 20


@pytest.mark.parametrize(
    ("period", "at", "key"),
    [
        ("month", datetime(2026, 11, 30, 23, 59, tzinfo=UTC), "2026-11"),
        ("month", datetime(2026, 12, 1, 0, 0, tzinfo=UTC), "2026-12"),
        ("week", datetime(2026, 12, 31, tzinfo=UTC), "2026-W53"),
        ("week", datetime(2027, 1, 4, tzinfo=UTC), "2027-W01"),
    ],
)
def test_allowance_period_is_the_calendar_month_or_iso_week(
    period: str, at: datetime, key: str
) -> None:
    assert KudosPolicy(20, period, frozenset()).period_of(at) == key


@pytest.mark.parametrize(
    ("to_ids", "tag", "code"),
    [
        (["m1"], "mentoring", "self_kudos"),
        (["m2", "m1"], "bogus", "self_kudos"),
        (["m2"], "Mentoring", "unknown_value_tag"),
        (["m2", "m2"], "bogus", "unknown_value_tag"),
        (["m2", "m3", "m2"], "mentoring", "duplicate_recipient"),
    ],
)
def test_a_members_own_bad_request_is_refused_with_the_first_rule_it_breaks(
    to_ids: list[str], tag: str, code: str
) -> None:
    with pytest.raises(PolicyViolation) as refused:
        POLICY.check_request("m1", to_ids, tag)
    assert refused.value.code == code


def test_request_beyond_what_is_left_is_refused_and_says_how_much_is_left() -> None:
    POLICY.check_remaining(used=1, wanted=2)
    with pytest.raises(PolicyViolation, match="has 1 left") as refused:
        POLICY.check_remaining(used=2, wanted=2)
    assert refused.value.code == "allowance_exhausted"
