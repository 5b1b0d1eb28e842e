"""The pure rules of health-check rounds: opening, answering, the closing tallies, and the
results maths (score, colour, mixed, trend, response rate) and alerts, without I/O."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.recognition.domain import health_checks as hc
from services.recognition.domain.health_check_decks import COP_HEALTH, DECKS, SQUAD_HEALTH
from services.recognition.domain.health_checks import Answer, CardResult, Colour, Trend
from shared.events.catalog import (
    HealthCheckCard,
    HealthCheckCardTally,
    HealthCheckClosed,
    HealthCheckTemplate,
)
from shared.refusals import Forbidden, Invalid, Refused

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
G, A, R = Colour.GREEN, Colour.AMBER, Colour.RED


def tally(card: str = "help", green: int = 0, amber: int = 0, red: int = 0) -> HealthCheckCardTally:
    return HealthCheckCardTally(card_id=card, green=green, amber=amber, red=red)


def opening(**overrides: object) -> dict[str, object]:
    return {
        "round_id": "r1",
        "community_id": "c1",
        "template": HealthCheckTemplate.COP_HEALTH,
        "extra_cards": [],
        "closes_at": NOW + timedelta(days=7),
        "min_respondents": 3,
        "opened_by": "lead",
        "now": NOW,
        **overrides,
    }


# --- the decks ------------------------------------------------------------------------------


def test_each_deck_has_eleven_cards_with_distinct_slug_ids_and_both_descriptions() -> None:
    for deck in (COP_HEALTH, SQUAD_HEALTH):
        assert len(deck) == 11
        assert len({c.card_id for c in deck}) == 11
        assert all(c.green and c.red and c.green != c.red for c in deck)
    assert [c.title for c in COP_HEALTH][:3] == ["Learning & growth", "Help", "Safety"]
    assert COP_HEALTH[0].card_id == "learning-growth"
    assert set(DECKS) == set(HealthCheckTemplate)


# --- opening ----------------------------------------------------------------------------------


def test_a_round_holds_the_deck_then_the_added_cards() -> None:
    extra = HealthCheckCard(card_id="goal-reuse", title="Reuse", green="we reuse", red="we don't")
    opened = hc.open_round(**opening(extra_cards=[extra]))  # type: ignore[arg-type]
    assert [c.card_id for c in opened.cards] == [*(c.card_id for c in COP_HEALTH), "goal-reuse"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"closes_at": NOW}, "closes_at"),
        ({"closes_at": NOW - timedelta(seconds=1)}, "closes_at"),
        ({"closes_at": NOW + timedelta(days=367)}, "closes_at"),
        ({"min_respondents": 2}, "min_respondents"),
        (
            {"extra_cards": [HealthCheckCard(card_id="help", title="t", green="g", red="r")]},
            "extra_cards",
        ),
        (
            {
                "extra_cards": [
                    HealthCheckCard(card_id=f"x{i}", title="t", green="g", red="r")
                    for i in range(11)
                ]
            },
            "extra_cards",
        ),
    ],
)
def test_opening_refuses_naming_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as refused:
        hc.open_round(**opening(**overrides))  # type: ignore[arg-type]
    assert refused.value.details["field"] == field


def test_only_the_leader_or_an_admin_steward_a_round() -> None:
    hc.require_steward("lead", "lead", False, "open")
    hc.require_steward("lead", "ops", True, "open")
    with pytest.raises(Forbidden):
        hc.require_steward("lead", "someone", False, "open")
    with pytest.raises(Forbidden):
        hc.require_steward(None, "someone", False, "open")


# --- answering --------------------------------------------------------------------------------


def test_answers_name_cards_of_the_round_only() -> None:
    hc.check_answers(["help", "fun"], {"help": Answer(G)})
    with pytest.raises(Invalid) as refused:
        hc.check_answers(["help", "fun"], {"help": Answer(G), "speed": Answer(R)})
    assert refused.value.details["field"] == "cards.speed"
    with pytest.raises(Invalid):
        hc.check_answers(["help"], {})


def test_a_round_takes_answers_only_while_open_and_before_its_closing_time() -> None:
    hc.require_open("open", NOW + timedelta(seconds=1), NOW)
    for state, closes_at in (("closing", NOW + timedelta(1)), ("open", NOW), ("closed", NOW)):
        with pytest.raises(Refused) as refused:
            hc.require_open(state, closes_at, NOW)
        assert refused.value.code == "round_closed"


def test_the_answer_key_depends_on_the_round_key_and_the_member() -> None:
    one, other = b"k" * 32, b"j" * 32
    assert hc.answer_key(one, "ann") == hc.answer_key(one, "ann")
    assert hc.answer_key(one, "ann") != hc.answer_key(one, "bob")
    assert hc.answer_key(one, "ann") != hc.answer_key(other, "ann")
    assert "ann" not in hc.answer_key(one, "ann")


# --- closing ----------------------------------------------------------------------------------


def closing(sets: list[dict[str, Answer]], minimum: int = 3) -> HealthCheckClosed:
    return hc.close_round(
        round_id="r1",
        community_id="c1",
        template=HealthCheckTemplate.COP_HEALTH,
        card_ids=["help", "fun"],
        min_respondents=minimum,
        answer_sets=sets,
        members=10,
    )


def test_closing_tallies_each_card_and_sorts_comments() -> None:
    sets = [
        {"help": Answer(G, Trend.UP, "zebra"), "fun": Answer(R)},
        {"help": Answer(A, Trend.UP, "apple")},
        {"help": Answer(G, Trend.DOWN), "fun": Answer(R, None, "meh")},
    ]
    closed = closing(sets)
    assert closed.respondents == 3
    assert closed.tallies is not None
    help_, fun = closed.tallies
    assert (help_.green, help_.amber, help_.red) == (2, 1, 0)
    assert (help_.up, help_.same, help_.down) == (2, 0, 1)
    assert help_.comments == ["apple", "zebra"]
    assert (fun.green, fun.amber, fun.red, fun.comments) == (0, 0, 2, ["meh"])


def test_closing_below_the_minimum_keeps_nothing_of_the_answers() -> None:
    closed = closing([{"help": Answer(R, None, "only me")}] * 2)
    assert closed.respondents == 2
    assert closed.tallies is None


def test_closing_is_the_same_whatever_the_order_of_the_answers() -> None:
    sets = [{"help": Answer(c, None, f"c{i}")} for i, c in enumerate([G, A, R, R])]
    assert closing(sets) == closing(list(reversed(sets)))


def test_comments_over_the_budget_are_left_out_fairly_across_cards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hc, "COMMENT_BUDGET_BYTES", 30)
    sets = [
        {"help": Answer(G, None, f"help {i}"), "fun": Answer(G, None, f"fun {i}")} for i in "ab"
    ]
    sets.append({"help": Answer(G, None, "help c")})
    closed = closing(sets)
    assert closed.tallies is not None
    kept = {t.card_id: t.comments for t in closed.tallies}
    # A comment takes its JSON (quoted) and a separator: "help a" 9 bytes, "fun a" 8, "help b"
    # 9 (26 in all); "fun b" would make 34, so it and everything after it are left out.
    assert kept == {"help": ["help a", "help b"], "fun": ["fun a"]}
    assert closed.comments_left_out == 2


# --- results ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("green", "amber", "red", "score", "colour", "mixed"),
    [
        (3, 0, 0, "1.0000", G, "0.0000"),
        (0, 0, 3, "0.0000", R, "0.0000"),
        (1, 1, 1, "0.5000", R, "0.6667"),  # a three-way tie goes to red
        (2, 2, 0, "0.7500", A, "0.5000"),  # green and amber tie: amber
        (0, 2, 2, "0.2500", R, "0.5000"),
        (2, 1, 0, "0.8333", G, "0.3333"),
        (5, 0, 11, "0.3125", R, "0.3125"),  # 10/32 exactly
        (1, 0, 15, "0.0625", R, "0.0625"),
        (1, 0, 31, "0.0313", R, "0.0313"),  # 1/32 = 0.03125: the half goes up
    ],
)
def test_card_result(
    green: int, amber: int, red: int, score: str, colour: Colour, mixed: str
) -> None:
    result = hc.card_result(tally(green=green, amber=amber, red=red))
    assert result.n == green + amber + red
    assert result.score == Decimal(score)
    assert result.colour is colour
    assert result.mixed == Decimal(mixed)


def test_a_card_nobody_answered_has_no_score_colour_or_mixed() -> None:
    assert hc.card_result(tally()) == CardResult("help", 0, 0, 0, 0, None, None, None)


@given(st.integers(0, 60), st.integers(0, 60), st.integers(0, 60))
def test_score_and_mixed_are_the_exact_ratios_rounded_half_up(g: int, a: int, r: int) -> None:
    n = g + a + r
    if n == 0:
        return
    result = hc.card_result(tally(green=g, amber=a, red=r))
    for value, exact in ((result.score, Fraction(2 * g + a, 2 * n)), (result.mixed, None)):
        if exact is None:
            exact = 1 - Fraction(max(g, a, r), n)
        assert value is not None
        assert abs(Fraction(value) - exact) <= Fraction(1, 20_000)
        assert Fraction(value) * 10_000 == int(Fraction(value) * 10_000)
    assert result.colour is not None
    counts = {G: g, A: a, R: r}
    assert counts[result.colour] == max(g, a, r)


@pytest.mark.parametrize(
    ("score", "previous", "expected"),
    [
        ("0.7000", "0.5500", Trend.UP),  # exactly 0.15 (in floats it is just below)
        ("0.5500", "0.7000", Trend.DOWN),
        ("0.6999", "0.5500", Trend.SAME),
        ("0.4001", "0.5500", Trend.SAME),
        ("0.5000", "0.5000", Trend.SAME),
    ],
)
def test_trend_is_a_move_of_at_least_0_15(score: str, previous: str, expected: Trend) -> None:
    assert hc.trend(Decimal(score), Decimal(previous)) is expected


def test_no_trend_without_a_previous_score() -> None:
    assert hc.trend(Decimal("0.5"), None) is None
    assert hc.trend(None, Decimal("0.5")) is None


def test_response_rate() -> None:
    assert hc.response_rate(3, 7) == Decimal("0.4286")
    assert hc.response_rate(1, 8) == Decimal("0.1250")
    assert hc.response_rate(0, 0) == Decimal(0)


# --- alerts -----------------------------------------------------------------------------------


def results(**cards: tuple[int, int, int]) -> hc.Results:
    return {card: hc.card_result(tally(card, *counts)) for card, counts in cards.items()}


def test_a_card_turning_red_raises_an_alert_a_card_staying_red_does_not() -> None:
    first = results(help=(0, 1, 2), fun=(3, 0, 0))
    assert hc.alerts(first, None, None) == [("help", hc.RED_ALERT)]
    second = results(help=(0, 0, 3), fun=(0, 1, 2))
    assert hc.alerts(second, first, None) == [("fun", hc.RED_ALERT)]


def test_a_card_declining_in_two_rounds_in_a_row_raises_an_alert() -> None:
    one = results(help=(4, 0, 0), fun=(4, 0, 0))  # 1.0
    two = results(help=(2, 2, 0), fun=(4, 0, 0))  # help 0.75: down
    three = results(help=(0, 4, 0), fun=(2, 2, 0))  # help 0.5: down again; fun down once
    assert hc.alerts(two, one, None) == []
    assert hc.alerts(three, two, one) == [("help", hc.DECLINING_ALERT)]


def test_a_card_new_to_the_round_has_no_trend_and_turns_red_from_nothing() -> None:
    before = results(help=(3, 0, 0))
    now = results(help=(3, 0, 0), goal=(0, 0, 3))
    assert hc.card_trends(now, before) == {"help": Trend.SAME, "goal": None}
    assert hc.alerts(now, before, None) == [("goal", hc.RED_ALERT)]
