"""Self-assessment health checks: the rules of a round and the maths of its results.

A round is opened on a deck (plus the leader's own cards), answered by the community's members
(a colour per card, optionally the trend they feel and a comment) until it closes, and closed
into anonymous per-card tallies. Results exist only when at least `min_respondents` answered.
Pure functions: no I/O, no clock.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from services.recognition.domain.health_check_decks import DECKS
from shared.events.bounds import MAX_HEALTH_CHECK_COMMENTS
from shared.events.catalog import (
    HealthCheckCard,
    HealthCheckCardTally,
    HealthCheckClosed,
    HealthCheckOpened,
    HealthCheckTemplate,
)
from shared.refusals import Forbidden, Invalid, Refused

MIN_RESPONDENTS: Final = 3
"""The fewest respondents a round may ask for before it shows results (the k of k-anonymity)."""
MAX_EXTRA_CARDS: Final = 10
LONGEST_ROUND: Final = timedelta(days=366)
TREND_STEP: Final = Decimal("0.15")
COMMENT_BUDGET_BYTES: Final = 600_000
"""The JSON size a closed round's comments may take together (an event is at most 1 MiB)."""

RED_ALERT: Final = "health_check_red"
DECLINING_ALERT: Final = "health_check_declining"
ALERTS: Final = (RED_ALERT, DECLINING_ALERT)


class Colour(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class Trend(StrEnum):
    UP = "up"
    SAME = "same"
    DOWN = "down"


@dataclass(frozen=True)
class Answer:
    colour: Colour
    trend: Trend | None = None
    comment: str | None = None


AnswerSet = Mapping[str, Answer]
"""One member's answers, by card id: what is kept of them carries no member id."""


# --- opening, answering, closing -------------------------------------------------------------


def require_steward(leader_id: str | None, actor_id: str, is_admin: bool, action: str) -> None:
    """The community's leader, or an admin."""
    if not is_admin and actor_id != leader_id:
        raise Forbidden("not_leader", f"only the community's leader or an admin may {action}")


def open_round(
    *,
    round_id: str,
    community_id: str,
    template: HealthCheckTemplate,
    extra_cards: Sequence[HealthCheckCard],
    closes_at: datetime,
    min_respondents: int,
    opened_by: str,
    now: datetime,
) -> HealthCheckOpened:
    if closes_at <= now:
        raise Invalid("closes_in_past", "the round must close in the future", field="closes_at")
    if closes_at > now + LONGEST_ROUND:
        raise Invalid(
            "closes_too_late", "a round may stay open at most 366 days", field="closes_at"
        )
    if min_respondents < MIN_RESPONDENTS:
        raise Invalid(
            "min_respondents_too_low",
            f"at least {MIN_RESPONDENTS} respondents keep answers anonymous",
            field="min_respondents",
        )
    deck = DECKS[template]
    if len(extra_cards) > MAX_EXTRA_CARDS:
        raise Invalid(
            "too_many_cards", f"at most {MAX_EXTRA_CARDS} cards may be added", field="extra_cards"
        )
    taken = {c.card_id for c in deck}
    clashing = []
    for card in extra_cards:
        if card.card_id in taken:
            clashing.append(card.card_id)
        taken.add(card.card_id)
    if clashing:
        raise Invalid(
            "duplicate_card",
            "an added card repeats a card id of the deck or of another added card",
            field="extra_cards",
            values=clashing,
        )
    return HealthCheckOpened(
        round_id=round_id,
        community_id=community_id,
        template=template,
        cards=[*deck, *extra_cards],
        closes_at=closes_at,
        min_respondents=min_respondents,
        opened_by=opened_by,
    )


def round_closed() -> Refused:
    return Refused("round_closed", "the round is closed: its answers can no longer change")


def require_open(state: str, closes_at: datetime, now: datetime) -> None:
    if state != "open" or closes_at <= now:
        raise round_closed()


def require_member(member_id: str, members: set[str]) -> None:
    if member_id not in members:
        raise Forbidden("not_a_member", "only members of the community answer its health check")


def check_answers(card_ids: Sequence[str], answers: AnswerSet) -> None:
    if not answers:
        raise Invalid("no_answers", "answer at least one card", field="cards")
    unknown = sorted(set(answers) - set(card_ids))
    if unknown:
        raise Invalid(
            "unknown_card",
            f"not a card of this round: {', '.join(unknown)}",
            field=f"cards.{unknown[0]}",
            values=unknown,
        )


def answer_key(round_key: bytes, member_id: str) -> str:
    """Where a member's answers are kept while the round is open. Without the round's key
    (destroyed when the round closes) it cannot be computed from the member id again."""
    return hmac.new(round_key, member_id.encode(), hashlib.sha256).hexdigest()


def close_round(
    *,
    round_id: str,
    community_id: str,
    template: HealthCheckTemplate,
    card_ids: Sequence[str],
    min_respondents: int,
    answer_sets: Iterable[AnswerSet],
    members: int,
) -> HealthCheckClosed:
    """The round's end: per-card tallies when at least `min_respondents` answered, else none.
    Comments are sorted and the tallies follow the deck: nothing keeps the answers' order."""
    sets = list(answer_sets)
    tallies = None
    left_out = 0
    if len(sets) >= min_respondents:
        tallies, left_out = _tallies(card_ids, sets)
    return HealthCheckClosed(
        round_id=round_id,
        community_id=community_id,
        template=template,
        respondents=len(sets),
        members=members,
        min_respondents=min_respondents,
        tallies=tallies,
        comments_left_out=left_out,
    )


def _tallies(
    card_ids: Sequence[str], sets: Sequence[AnswerSet]
) -> tuple[list[HealthCheckCardTally], int]:
    comments = {
        card: sorted(a[card].comment or "" for a in sets if card in a and a[card].comment)
        for card in card_ids
    }
    kept, left_out = _within_budget(card_ids, comments)
    tallies = []
    for card in card_ids:
        answers = [a[card] for a in sets if card in a]
        colours = [a.colour for a in answers]
        trends = [a.trend for a in answers]
        tallies.append(
            HealthCheckCardTally(
                card_id=card,
                green=colours.count(Colour.GREEN),
                amber=colours.count(Colour.AMBER),
                red=colours.count(Colour.RED),
                up=trends.count(Trend.UP),
                same=trends.count(Trend.SAME),
                down=trends.count(Trend.DOWN),
                comments=kept[card],
            )
        )
    return tallies, left_out


def _within_budget(
    card_ids: Sequence[str], comments: Mapping[str, list[str]]
) -> tuple[dict[str, list[str]], int]:
    """The comments that fit the round's budget, taken a card at a time so that one card's
    many comments leave room for the others'; and how many did not fit."""
    kept: dict[str, list[str]] = {card: [] for card in card_ids}
    used, depth = 0, max((len(c) for c in comments.values()), default=0)
    full = False
    for i in range(depth):
        for card in card_ids:
            if i >= len(comments[card]) or full or len(kept[card]) >= MAX_HEALTH_CHECK_COMMENTS:
                continue
            size = len(json.dumps(comments[card][i], ensure_ascii=False).encode()) + 1
            if used + size > COMMENT_BUDGET_BYTES:
                full = True
                continue
            kept[card].append(comments[card][i])
            used += size
    total = sum(len(c) for c in comments.values())
    return kept, total - sum(len(c) for c in kept.values())


# --- results -------------------------------------------------------------------------------


def round_half_up(numerator: int, denominator: int) -> Decimal:
    """numerator / denominator to 4 decimals, halves rounded up, computed exactly."""
    units = (2 * numerator * 10_000 + denominator) // (2 * denominator)
    return Decimal(units).scaleb(-4)


@dataclass(frozen=True)
class CardResult:
    card_id: str
    n: int
    green: int
    amber: int
    red: int
    score: Decimal | None
    colour: Colour | None
    mixed: Decimal | None


def card_result(tally: HealthCheckCardTally) -> CardResult:
    """score = (2·green + amber) / (2·n); colour = the most answered, a tie going to the worse;
    mixed = 1 - (the most answered colour's count) / n. None of them without answers."""
    n = tally.green + tally.amber + tally.red
    if n == 0:
        return CardResult(tally.card_id, 0, 0, 0, 0, None, None, None)
    counts = {Colour.RED: tally.red, Colour.AMBER: tally.amber, Colour.GREEN: tally.green}
    colour = max(counts, key=lambda c: counts[c])  # the first of equals: the worse
    return CardResult(
        card_id=tally.card_id,
        n=n,
        green=tally.green,
        amber=tally.amber,
        red=tally.red,
        score=round_half_up(2 * tally.green + tally.amber, 2 * n),
        colour=colour,
        mixed=round_half_up(n - counts[colour], n),
    )


def trend(score: Decimal | None, previous: Decimal | None) -> Trend | None:
    """Against the previous round with results, on the rounded scores: a move of 0.15 or more."""
    if score is None or previous is None:
        return None
    if score - previous >= TREND_STEP:
        return Trend.UP
    if previous - score >= TREND_STEP:
        return Trend.DOWN
    return Trend.SAME


def response_rate(respondents: int, members: int) -> Decimal:
    return round_half_up(respondents, members) if members else Decimal(0)


Results = Mapping[str, CardResult]
"""A round's results by card id."""


def card_trends(current: Results, previous: Results | None) -> dict[str, Trend | None]:
    return {
        card: trend(r.score, previous[card].score if previous and card in previous else None)
        for card, r in current.items()
    }


def alerts(
    current: Results, previous: Results | None, before_previous: Results | None
) -> list[tuple[str, str]]:
    """(card, alert) for each alert the round raises, given the two rounds with results before
    it (same community and template): a card turning red, a card declining twice in a row."""
    raised = []
    now = card_trends(current, previous)
    then = card_trends(previous, before_previous) if previous is not None else {}
    for card, result in current.items():
        before = previous.get(card) if previous is not None else None
        if result.colour is Colour.RED and (before is None or before.colour is not Colour.RED):
            raised.append((card, RED_ALERT))
        if now[card] is Trend.DOWN and then.get(card) is Trend.DOWN:
            raised.append((card, DECLINING_ALERT))
    return raised
