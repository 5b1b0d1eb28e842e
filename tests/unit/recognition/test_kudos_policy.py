"""The kudos policy: self-kudos, duplicates, value tags, the weekly allowance, judging facts."""

from datetime import UTC, datetime, timedelta

import pytest

from services.recognition.domain.kudos import (
    KudosPolicy,
    PolicyViolation,
    allowance_period,
    judge_recorded,
)

POLICY = KudosPolicy(
    allowance_per_week=3,
    value_tags=frozenset({"mentoring", "knowledge_sharing", "collaboration"}),
)


# --- check_request ---


@pytest.mark.parametrize(
    "to_ids", [["m2"], ["m2", "m3"], [f"m{i}" for i in range(2, 22)]], ids=["one", "two", "twenty"]
)
def test_valid_request_passes(to_ids: list[str]) -> None:
    POLICY.check_request("m1", to_ids, "mentoring")


@pytest.mark.parametrize("to_ids", [["m1"], ["m2", "m1"], ["m1", "m1"]])
def test_kudos_to_yourself_is_refused_as_self_kudos(to_ids: list[str]) -> None:
    with pytest.raises(PolicyViolation) as caught:
        POLICY.check_request("m1", to_ids, "mentoring")

    assert caught.value.code == "self_kudos"
    assert "yourself" in str(caught.value)


@pytest.mark.parametrize("to_ids", [["m2", "m2"], ["m2", "m3", "m2"]])
def test_same_recipient_twice_is_refused_as_duplicate(to_ids: list[str]) -> None:
    with pytest.raises(PolicyViolation) as caught:
        POLICY.check_request("m1", to_ids, "mentoring")

    assert caught.value.code == "duplicate_recipient"


@pytest.mark.parametrize("tag", ["heroics", "Mentoring", "", "mentoring "])
def test_value_tag_outside_the_configured_set_is_refused(tag: str) -> None:
    with pytest.raises(PolicyViolation) as caught:
        POLICY.check_request("m1", ["m2"], tag)

    assert caught.value.code == "unknown_value_tag"
    assert "collaboration, knowledge_sharing, mentoring" in str(caught.value)


def test_policy_violation_is_a_value_error_with_a_code() -> None:
    violation = PolicyViolation("self_kudos", "no")

    assert isinstance(violation, ValueError)
    assert (violation.code, str(violation)) == ("self_kudos", "no")


# --- check_allowance: `given_this_period` already counts the kudos being judged ---


@pytest.mark.parametrize("given", [1, 2, 3])
def test_allowance_up_to_and_including_the_limit_is_accepted(given: int) -> None:
    POLICY.check_allowance(given)


@pytest.mark.parametrize("given", [4, 5, 100])
def test_allowance_beyond_the_limit_is_refused(given: int) -> None:
    with pytest.raises(PolicyViolation) as caught:
        POLICY.check_allowance(given)

    assert caught.value.code == "allowance_exhausted"
    assert "3" in str(caught.value)


def test_zero_allowance_refuses_the_first_kudos() -> None:
    policy = KudosPolicy(allowance_per_week=0, value_tags=frozenset({"mentoring"}))

    with pytest.raises(PolicyViolation) as caught:
        policy.check_allowance(1)

    assert caught.value.code == "allowance_exhausted"


# --- allowance_period: the ISO week ---


@pytest.mark.parametrize(
    ("at", "period"),
    [
        (datetime(2026, 11, 21, 10, 0, tzinfo=UTC), "2026-W47"),
        (datetime(2026, 1, 5, 0, 0, tzinfo=UTC), "2026-W02"),
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), "2026-W53"),
        (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), "2026-W53"),
        (datetime(2027, 1, 3, 23, 59, 59, tzinfo=UTC), "2026-W53"),
        (datetime(2027, 1, 4, 0, 0, tzinfo=UTC), "2027-W01"),
        (datetime(2025, 12, 28, 12, 0, tzinfo=UTC), "2025-W52"),
        (datetime(2025, 12, 29, 0, 0, tzinfo=UTC), "2026-W01"),
    ],
    ids=lambda v: v.isoformat() if isinstance(v, datetime) else v,
)
def test_allowance_period_is_the_iso_week_including_year_boundaries(
    at: datetime, period: str
) -> None:
    assert allowance_period(at) == period


def test_allowance_period_changes_at_monday_midnight() -> None:
    monday = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)

    assert allowance_period(monday - timedelta(microseconds=1)) == "2026-W47"
    assert allowance_period(monday) == "2026-W48"


# --- judge_recorded: facts from outside are judged, not refused ---


def test_recorded_kudos_counts_every_distinct_other_recipient_in_order() -> None:
    judgement = judge_recorded("m1", ["m3", "m2", "m4"], "mentoring", POLICY)

    assert judgement.counted == ("m3", "m2", "m4")
    assert judgement.not_counted == {}


def test_recorded_self_kudos_is_not_counted_with_the_reason() -> None:
    judgement = judge_recorded("m1", ["m2", "m1"], "mentoring", POLICY)

    assert judgement.counted == ("m2",)
    assert judgement.not_counted == {"m1": "self_kudos"}


def test_recorded_duplicate_recipient_counts_once_and_notes_the_duplicate() -> None:
    judgement = judge_recorded("m1", ["m2", "m3", "m2", "m2"], "mentoring", POLICY)

    assert judgement.counted == ("m2", "m3")
    assert judgement.not_counted == {"m2": "duplicate_recipient"}


def test_recorded_self_kudos_only_counts_for_nobody() -> None:
    judgement = judge_recorded("m1", ["m1", "m1"], "mentoring", POLICY)

    assert judgement.counted == ()
    assert judgement.not_counted == {"m1": "self_kudos"}


def test_recorded_mixed_self_and_duplicates_keeps_both_reasons() -> None:
    judgement = judge_recorded("m1", ["m1", "m2", "m2", "m3"], "mentoring", POLICY)

    assert judgement.counted == ("m2", "m3")
    assert judgement.not_counted == {"m1": "self_kudos", "m2": "duplicate_recipient"}


def test_recorded_kudos_with_an_unknown_value_tag_counts_for_nobody() -> None:
    judgement = judge_recorded("m1", ["m2", "m3"], "bribery", POLICY)

    assert judgement.counted == ()
    assert judgement.not_counted == {"m2": "unknown_value_tag", "m3": "unknown_value_tag"}
