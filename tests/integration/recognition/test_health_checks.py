"""Self-assessment health checks on the real broker, database and Redis: a leader opens rounds,
members answer, rounds close (by the leader or by themselves), and the results and alerts
follow docs/recognition.md. Expected numbers are computed here from the answers the test sent,
with decimal arithmetic of this test's own, never with the service's code."""

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import pytest

from services.recognition.domain.health_check_decks import COP_HEALTH
from tests.infra import Infrastructure
from tests.integration.apps import bearer
from tests.integration.polling import eventually
from tests.integration.recognition.health_check_world import (
    Answers,
    Community,
    Stack,
    community,
    running,
)
from tests.problems import fields, problem_of

pytestmark = pytest.mark.integration

ALERT_RAISED = "cop.health.alert_raised.v1"
CLOSED = "cop.health_check.closed.v1"
DECK = [c.card_id for c in COP_HEALTH]
GOAL_CARD = {
    "card_id": "goal-reuse",
    "title": "Our patterns get reused",
    "green": "Teams pick up what we publish.",
    "red": "What we publish stays unread.",
}


@pytest.fixture(scope="module")
async def stack(infra: Infrastructure) -> AsyncIterator[Stack]:
    async for running_stack in running(infra):
        yield running_stack


def a(colour: str, trend: str | None = None, comment: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"colour": colour}
    if trend:
        answer["trend"] = trend
    if comment:
        answer["comment"] = comment
    return answer


# --- the reference: docs/recognition.md's definitions, computed here -------------------------

FOUR_PLACES = Decimal("0.0001")


def four_places(numerator: int, denominator: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(numerator) / Decimal(denominator)).quantize(FOUR_PLACES, ROUND_HALF_UP)


def one_minus(part: int, whole: int) -> Decimal:
    """1 - part / whole, to four places (halves up)."""
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(1) - Decimal(part) / Decimal(whole)).quantize(FOUR_PLACES, ROUND_HALF_UP)


def expected_card(answers: dict[str, Answers], card: str) -> dict[str, Any]:
    given = [cards[card] for cards in answers.values() if card in cards]
    colours = Counter(g["colour"] for g in given)
    n = len(given)
    felt = Counter(g.get("trend") for g in given)
    expected: dict[str, Any] = {
        "n": n,
        "green": colours["green"],
        "amber": colours["amber"],
        "red": colours["red"],
        "felt_trend": {"up": felt["up"], "same": felt["same"], "down": felt["down"]},
        "comments": sorted(g["comment"] for g in given if g.get("comment")),
    }
    if n == 0:
        return {**expected, "score": None, "colour": None, "mixed": None}
    most = max(colours.values())
    # Worst first, so that among equals the worse one is taken.
    colour = next(c for c in ("red", "amber", "green") if colours[c] == most)
    return {
        **expected,
        "score": float(four_places(2 * colours["green"] + colours["amber"], 2 * n)),
        "colour": colour,
        "mixed": float(one_minus(most, n)),
    }


def expected_trend(score: float | None, previous: float | None) -> str | None:
    if score is None or previous is None:
        return None
    moved = round(score * 10_000) - round(previous * 10_000)  # in ten-thousandths
    return "up" if moved >= 1_500 else "down" if moved <= -1_500 else "same"


def by_card(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert results["results"] is not None, results
    return {c["card_id"]: c for c in results["results"]}


def check_cards(
    found: dict[str, Any],
    answers: dict[str, Answers],
    cards: list[str],
    previous: dict[str, Any] | None,
) -> None:
    shown = by_card(found)
    assert list(shown) == cards
    for card in cards:
        want = expected_card(answers, card)
        got = shown[card]
        for key in want:
            assert got[key] == want[key], (card, key, got[key], want[key])
        before = by_card(previous).get(card, {}).get("score") if previous else None
        assert got["trend"] == expected_trend(got["score"], before), card


# --- rounds, answers and results -------------------------------------------------------------


ROUND_1 = {
    1: {"learning-growth": a("green", "up", "Learned mutation testing"), "help": a("green"),
        "safety": a("amber"), "fun": a("red", None, "Sessions run too long"),
        "goal-reuse": a("red")},
    2: {"learning-growth": a("green"), "help": a("amber"), "safety": a("amber"), "fun": a("red"),
        "goal-reuse": a("amber")},
    3: {"learning-growth": a("amber", "down"), "help": a("red"), "safety": a("green"),
        "fun": a("red"), "goal-reuse": a("red", None, "Nobody reuses the playbooks")},
    4: {"learning-growth": a("green", "same"), "help": a("amber"), "safety": a("red"),
        "fun": a("amber")},
    5: {"learning-growth": a("red"), "help": a("green"), "safety": a("amber"), "fun": a("green"),
        "goal-reuse": a("red")},
}  # fmt: skip
ROUND_2 = {
    1: {"learning-growth": a("green"), "help": a("amber"), "safety": a("red"), "fun": a("green")},
    2: {"learning-growth": a("amber"), "help": a("red"), "safety": a("red"), "fun": a("green")},
    3: {"learning-growth": a("amber"), "help": a("red"), "safety": a("amber", "down"),
        "fun": a("amber", "up", "Better since the new format")},
    4: {"learning-growth": a("green"), "help": a("amber"), "safety": a("green"), "fun": a("green")},
}  # fmt: skip
ROUND_3 = {n: {"help": a("red"), "safety": a("red")} for n in (1, 2, 3, 4)}


def by_member(guild: Community, answers: dict[int, Answers]) -> dict[str, Answers]:
    return {guild.members[n - 1]: cards for n, cards in answers.items()}


async def test_every_aggregate_follows_the_definitions_and_trends_skip_rounds_without_results(
    stack: Stack,
) -> None:
    guild = await community(stack, 6)
    first = await guild.open_round(extra_cards=[GOAL_CARD])
    answers_1 = by_member(guild, ROUND_1)
    # Member 5 first answers otherwise, then changes their mind: only the last answers count.
    await guild.answer_all(first, {guild.members[4]: {c: a("green") for c in ("help", "fun")}})
    await guild.answer_all(first, answers_1)
    # The leader is a member too.
    leader_answers = {"help": a("green"), "fun": a("amber", "up")}
    await guild.answer_all(first, {guild.leader: leader_answers})
    answers_1[guild.leader] = leader_answers
    await guild.close(first)

    found = await guild.results(first)
    assert found["status"] == "closed"
    assert found["reason"] is None
    assert found["respondents"] == 6
    assert found["members"] == 7  # six members and the leader
    assert found["response_rate"] == float(four_places(6, 7))
    assert found["previous_round_id"] is None
    check_cards(found, answers_1, [*DECK, "goal-reuse"], None)

    # A round with too few respondents has no results, and is no "previous round".
    skipped = await guild.open_round()
    await guild.answer_all(skipped, by_member(guild, {1: {"help": a("green")}}))
    await guild.close(skipped)
    assert (await guild.results(skipped))["results"] is None

    second = await guild.open_round()
    answers_2 = by_member(guild, ROUND_2)
    await guild.answer_all(second, answers_2)
    await guild.close(second)
    found_2 = await guild.results(second)
    assert found_2["previous_round_id"] == first
    assert found_2["respondents"] == 4
    assert found_2["response_rate"] == float(four_places(4, 7))
    check_cards(found_2, answers_2, DECK, found)
    trends = {c["card_id"]: c["trend"] for c in found_2["results"]}
    # The answers were made for these: help fell, fun rose, the others moved less than 0.15.
    assert (trends["help"], trends["fun"], trends["safety"]) == ("down", "up", "same")

    listed = await guild.rounds(as_=guild.members[0])
    assert [r["round_id"] for r in listed] == [second, skipped, first]
    assert [r["respondents"] for r in listed] == [4, 1, 6]
    assert [r["has_results"] for r in listed] == [True, False, True]
    assert all(r["answered_by_me"] for r in listed)
    assert not any(r["answered_by_me"] for r in await guild.rounds(as_=guild.members[5]))


async def test_results_need_the_minimum_of_respondents(stack: Stack) -> None:
    guild = await community(stack, 5)
    round_id = await guild.open_round(min_respondents=4)
    three = by_member(guild, {n: {"help": a("red", None, "Lonely")} for n in (1, 2, 3)})
    await guild.answer_all(round_id, three)
    await guild.close(round_id)
    found = await guild.results(round_id)
    assert found["results"] is None
    assert found["reason"] == "too_few_respondents"
    assert (found["respondents"], found["min_respondents"]) == (3, 4)
    closed = [e for e in await stack.records(CLOSED) if e["data"]["round_id"] == round_id]
    assert [e["data"]["tallies"] for e in closed] == [None]
    assert "Lonely" not in str(closed)

    enough = await guild.open_round(min_respondents=3)
    await guild.answer_all(enough, three)
    await guild.close(enough)
    assert by_card(await guild.results(enough))["help"]["red"] == 3


async def alerts_on_topic(stack: Stack, round_id: str) -> list[tuple[str, str]]:
    return sorted(
        (e["data"]["details"]["card"], e["data"]["alert"])
        for e in await stack.records(ALERT_RAISED)
        if e["data"]["period"] == round_id
    )


async def alerts_shown(guild: Community, round_id: str) -> list[tuple[str, str]]:
    found = await guild.results(round_id)
    return sorted((c["card_id"], alert) for c in found["results"] for alert in c["alerts"])


async def test_red_and_declining_cards_alert_the_leader_once(stack: Stack) -> None:
    guild = await community(stack, 4)
    expected = [
        [("fun", "health_check_red"), ("goal-reuse", "health_check_red")],
        # help turns red (and falls); safety turns red (its score moves less than 0.15).
        [("help", "health_check_red"), ("safety", "health_check_red")],
        # help, red already, declines a second time in a row; safety declines a first time.
        [("help", "health_check_declining")],
    ]
    rounds = []
    for answers, extra in ((ROUND_1, [GOAL_CARD]), (ROUND_2, []), (ROUND_3, [])):
        round_id = await guild.open_round(extra_cards=extra)
        four = {n: cards for n, cards in answers.items() if n <= 4}
        await guild.answer_all(round_id, by_member(guild, four))
        await guild.close(round_id)
        rounds.append(round_id)

    for round_id, want in zip(rounds, expected, strict=True):

        async def published(
            round_id: str = round_id, want: list[tuple[str, str]] = want
        ) -> list[tuple[str, str]] | None:
            found = await alerts_on_topic(stack, round_id)
            return found if len(found) >= len(want) else None

        async def shown(
            round_id: str = round_id, want: list[tuple[str, str]] = want
        ) -> list[tuple[str, str]] | None:
            found = await alerts_shown(guild, round_id)
            return found if len(found) >= len(want) else None

        assert await eventually(published, what=f"the alerts of {round_id} published") == want
        assert await eventually(shown, what=f"the alerts of {round_id} in its results") == want
        alerts = [e for e in await stack.records(ALERT_RAISED) if e["data"]["period"] == round_id]
        assert {e["data"]["community_id"] for e in alerts} == {guild.community_id}

    # The community's alerts list them too, round after round, each with its card's scores.
    listed = await stack.client.get(f"/communities/{guild.community_id}/alerts")
    assert listed.status_code == 200, listed.text
    alerts = listed.json()["alerts"]
    in_order = [r for r, want in zip(rounds, expected, strict=True) for _ in want]
    assert [a["period"] for a in alerts] == in_order
    assert [
        sorted((a["details"]["card"], a["alert"]) for a in alerts if a["period"] == r)
        for r in rounds
    ] == expected
    assert all("score" in a["details"] for a in alerts)

    # Closing again changes nothing and raises nothing again.
    again = await stack.client.post(
        f"/health-checks/{rounds[0]}/close", headers=bearer(guild.leader)
    )
    assert problem_of(again, 409)["code"] == "round_closed"
    assert await alerts_on_topic(stack, rounds[0]) == expected[0]


async def test_answers_change_until_the_round_closes_and_are_refused_after(stack: Stack) -> None:
    guild = await community(stack, 3)
    round_id = await guild.open_round()
    one, two, three = guild.members
    await guild.answer_all(round_id, {one: {"help": a("red")}, two: {"help": a("red")}})
    await guild.answer_all(round_id, {three: {"help": a("red"), "fun": a("amber")}})
    # Changed: the whole answer set is replaced.
    await guild.answer_all(round_id, {three: {"help": a("green", "up", "Got help at last")}})
    mine = await stack.client.get(f"/health-checks/{round_id}/answers/me", headers=bearer(three))
    assert mine.status_code == 200, mine.text
    assert mine.json()["cards"] == {
        "help": {"colour": "green", "trend": "up", "comment": "Got help at last"}
    }
    await guild.close(round_id)

    late = await guild.answer(round_id, three, {"help": a("red")})
    assert problem_of(late, 409)["code"] == "round_closed"
    gone = await stack.client.get(f"/health-checks/{round_id}/answers/me", headers=bearer(three))
    assert problem_of(gone, 409)["code"] == "round_closed"
    shown = by_card(await guild.results(round_id))
    assert (shown["help"]["green"], shown["help"]["red"], shown["fun"]["n"]) == (1, 2, 0)


async def test_a_round_closes_by_itself_at_its_closing_time(stack: Stack) -> None:
    guild = await community(stack, 3)
    round_id = await guild.open_round(closes_in=timedelta(seconds=4))
    await guild.answer_all(round_id, {m: {"fun": a("green")} for m in guild.members})

    async def closed() -> dict[str, Any] | None:
        found = await guild.results(round_id)
        return found if found["status"] == "closed" else None

    found = await eventually(closed, timeout_s=30, what="the round to close by itself")
    assert by_card(found)["fun"]["green"] == 3
    late = await guild.answer(round_id, guild.members[0], {"fun": a("red")})
    assert problem_of(late, 409)["code"] == "round_closed"


async def test_bad_input_is_refused_naming_the_field_and_changes_nothing(stack: Stack) -> None:
    guild = await community(stack, 3)
    round_id = await guild.open_round()
    member = guild.members[0]

    refused_openings: list[tuple[dict[str, Any], int, str | None]] = [
        ({"template": "retro-deck"}, 422, "template"),
        ({"closes_in": timedelta(minutes=-5)}, 422, "closes_at"),
        ({"min_respondents": 2}, 422, "min_respondents"),
        ({"extra_cards": [{**GOAL_CARD, "card_id": "help"}]}, 422, "extra_cards"),
        ({"as_": member}, 403, None),
    ]
    for extra, status, field in refused_openings:
        response = await guild.open_round_raw(**extra)
        problem = problem_of(response, status)
        if field is not None:
            assert field in {f.split(".")[0] for f in fields(problem)}, problem

    refused_answers = [
        (member, {"speed": a("green")}, 422, "cards.speed"),
        (member, {"help": a("blue")}, 422, "cards.help.colour"),
        (member, {"help": a("green", "sideways")}, 422, "cards.help.trend"),
        (member, {}, 422, "cards"),
        ("stranger", {"help": a("green")}, 403, None),
    ]
    for who, cards, status, field in refused_answers:
        problem = problem_of(await guild.answer(round_id, who, cards), status)
        if field is not None:
            assert field in fields(problem), problem
    # An admin who is not a member does not answer either.
    admin = await stack.client.put(
        f"/health-checks/{round_id}/answers", json={"cards": {"help": a("green")}}
    )
    assert problem_of(admin, 403)["code"] == "not_a_member"
    not_leader = await stack.client.post(f"/health-checks/{round_id}/close", headers=bearer(member))
    assert problem_of(not_leader, 403)["code"] == "not_leader"
    unknown = await guild.answer("no-such-round", member, {"help": a("green")})
    assert problem_of(unknown, 404)["code"] == "round_not_found"

    # Nothing changed: one round, open, nobody answered.
    assert [(r["round_id"], r["status"], r["respondents"]) for r in await guild.rounds()] == [
        (round_id, "open", 0)
    ]
    mine = await stack.client.get(f"/health-checks/{round_id}/answers/me", headers=bearer(member))
    assert problem_of(mine, 404)["code"] == "no_answers"
