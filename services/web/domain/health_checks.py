"""The self-assessment matrix: each card's colour round after round, and beside it the
behaviour the community's own numbers show for the same months, so a leader sees where what
members feel and what they do disagree. Pure: the rounds and the numbers are read elsewhere."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.web.domain.health import is_share, label

BEHAVIOUR: Mapping[str, str] = {
    # the community health check deck
    "learning-growth": "attendance_consistency",
    "help": "contributors_with_give",
    "collaborate": "cross_team_sessions",
    "share-knowledge": "artifacts_published",
    "long-term-strategies": "facilitators_last6",
    "how-we-work": "action_closure_rate",
    "fun": "avg_rating",
    "feedback": "applied_share",
    "ability-to-decide": "action_closure_rate",
    "motivation": "participation_rate",
    # the squad health check deck
    "learning": "attendance_consistency",
    "support": "contributors_with_give",
    "teamwork": "cross_team_sessions",
    "value": "reuses",
}
"""The health metric each card's feeling can be held against (a card without one has none)."""

COLOURS = ("green", "amber", "red")
TREND_SIGNS = {"up": "↑", "same": "→", "down": "↓"}


@dataclass(frozen=True)
class Cell:
    """One card in one round: its colour and trend, or why it has none."""

    colour: str | None
    trend: str | None
    score: float | None
    n: int
    comments: tuple[str, ...]
    behaviour: float | None  # the card's metric in the month the round closed

    @property
    def sign(self) -> str:
        return TREND_SIGNS.get(self.trend or "", "")


@dataclass(frozen=True)
class Row:
    card_id: str
    title: str
    metric: str | None
    metric_label: str
    share: bool
    cells: tuple[Cell | None, ...]  # per round, oldest first; None: the card was not asked


@dataclass(frozen=True)
class Matrix:
    rounds: tuple[Mapping[str, Any], ...]  # the closed rounds with results, oldest first
    rows: tuple[Row, ...]


def matrix(
    results: Sequence[Mapping[str, Any]], behaviour: Mapping[str, Mapping[str, Any]]
) -> Matrix:
    """The rounds' results (each `GET /health-checks/{id}/results`, any order) as cards-by-rounds;
    `behaviour` holds each round's month of health metrics, by round id."""
    rounds = sorted(
        (r for r in results if r.get("results")), key=lambda r: str(r.get("closed_at") or "")
    )
    titles: dict[str, str] = {}
    for r in rounds:
        for card in r["results"]:
            titles.setdefault(card["card_id"], card["title"])
    rows = []
    for card_id, title in titles.items():
        metric = BEHAVIOUR.get(card_id)
        cells = tuple(_cell(r, card_id, metric, behaviour.get(r["round_id"], {})) for r in rounds)
        rows.append(
            Row(
                card_id,
                title,
                metric,
                label(metric) if metric else "",
                bool(metric) and is_share(metric or ""),
                cells,
            )
        )
    return Matrix(tuple(rounds), tuple(rows))


def _cell(
    result: Mapping[str, Any], card_id: str, metric: str | None, numbers: Mapping[str, Any]
) -> Cell | None:
    card = next((c for c in result["results"] if c["card_id"] == card_id), None)
    if card is None:
        return None
    value = numbers.get(metric) if metric else None
    return Cell(
        colour=card.get("colour"),
        trend=card.get("trend"),
        score=card.get("score"),
        n=int(card.get("n", 0)),
        comments=tuple(card.get("comments", [])),
        behaviour=float(value) if isinstance(value, int | float) else None,
    )


def month_of(instant: str | None) -> str | None:
    """`YYYY-MM` of an ISO instant (the month whose health numbers a round is held against)."""
    return instant[:7] if instant and len(instant) >= 7 else None


def answers_body(form: Mapping[str, str], card_ids: Sequence[str]) -> dict[str, Any]:
    """The answers a form sends (`colour:CARD`, `trend:CARD`, `comment:CARD`) as the API's body;
    cards left without a colour are not answered."""
    cards: dict[str, dict[str, str]] = {}
    for card in card_ids:
        colour = form.get(f"colour:{card}", "").strip()
        if not colour:
            continue
        answer = {"colour": colour}
        if trend := form.get(f"trend:{card}", "").strip():
            answer["trend"] = trend
        if comment := form.get(f"comment:{card}", "").strip():
            answer["comment"] = comment
        cards[card] = answer
    return {"cards": cards}
