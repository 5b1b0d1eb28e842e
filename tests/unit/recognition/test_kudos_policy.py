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


@pytest.mark.parametrize(
    ("to_ids", "tag", "left", "expected"),
    [
        (["a", "b"], "mentoring", 3, [V.COUNTED, V.COUNTED]),
        (["g", "a"], "bogus", 3, [V.SELF_KUDOS, V.UNKNOWN_VALUE_TAG]),
        (["a", "a"], "bogus", 3, [V.UNKNOWN_VALUE_TAG, V.UNKNOWN_VALUE_TAG]),
        (["a", "a", "b"], "mentoring", 2, [V.COUNTED, V.DUPLICATE_RECIPIENT, V.COUNTED]),
        (["a", "a"], "mentoring", 0, [V.ALLOWANCE_EXHAUSTED, V.DUPLICATE_RECIPIENT]),
        (["a", "b", "c"], "mentoring", 2, [V.COUNTED, V.COUNTED, V.ALLOWANCE_EXHAUSTED]),
    ],
    ids=[
        "distinct-other-recipients-are-counted-in-order",
        "self-comes-before-an-unknown-tag",
        "an-unknown-tag-comes-before-a-duplicate",
        "a-repeated-recipient-is-a-duplicate-and-uses-no-allowance",
        "a-duplicate-comes-before-the-allowance",
        "recipients-beyond-the-allowance-are-exhausted",
    ],
)
def test_each_recipient_gets_the_verdict_of_the_first_rule_it_meets(
    to_ids: list[str], tag: str, left: int, expected: list[V]
) -> None:
    assert judged("g", to_ids, tag, left) == list(zip(to_ids, expected, strict=True))


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
