"""Reads of health-check rounds for the HTTP API: a round, a community's rounds, a round's
results. By `_id` only: a round, its community's index of rounds, its respondents' record."""

from decimal import Decimal

from pymongo.asynchronous.collection import AsyncCollection

from services.recognition.adapters.decisions import alert_parts
from services.recognition.adapters.health_checks import (
    Ballots,
    HealthCheckRounds,
    results_of,
    tallies_of,
)
from services.recognition.domain import health_checks as rules
from shared.documents import Doc


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _summary(doc: Doc, respondents: list[str] | None) -> Doc:
    """What every answer about a round shows. An open round's respondents are counted from
    its respondents' record; a closed one's come with its closing event."""
    closed = doc.get("status") == "closed"
    return {
        "round_id": doc["_id"],
        "community_id": doc["community_id"],
        "template": doc["template"],
        "status": doc.get("status", "open"),
        "opened_at": doc.get("opened_at"),
        "closes_at": doc["closes_at"],
        "closed_at": doc.get("closed_at"),
        "min_respondents": doc["min_respondents"],
        "respondents": doc.get("respondents", 0) if closed else len(respondents or []),
    }


class HealthCheckQueries:
    def __init__(
        self, rounds: HealthCheckRounds, ballots: Ballots, alerts: AsyncCollection[Doc]
    ) -> None:
        self._rounds = rounds
        self._ballots = ballots
        self._alerts = alerts

    async def round(self, round_id: str) -> Doc | None:
        """The round with its cards, as a member answering it sees it."""
        doc = await self._rounds.round(round_id)
        if doc is None:
            return None
        who = (await self._ballots.respondents([round_id])).get(round_id)
        return {**_summary(doc, who), "cards": doc["cards"]}

    async def rounds(self, community_id: str, member_id: str) -> list[Doc]:
        """The community's rounds, newest first, and whether the member answered each."""
        docs = await self._rounds.rounds_of(community_id)
        who = await self._ballots.respondents(d["_id"] for d in docs)
        return [
            {
                **_summary(d, who.get(d["_id"])),
                "has_results": d.get("tallies") is not None,
                "answered_by_me": member_id in who.get(d["_id"], []),
            }
            for d in docs
        ]

    async def results(self, round_id: str) -> Doc | None:
        doc = await self._rounds.round(round_id)
        if doc is None:
            return None
        who = (await self._ballots.respondents([round_id])).get(round_id)
        answer: Doc = {
            **_summary(doc, who),
            "members": doc.get("members"),
            "response_rate": None,
            "previous_round_id": None,
            "comments_left_out": doc.get("comments_left_out", 0),
            "results": None,
            "reason": None,
        }
        if doc.get("status") != "closed":
            return {**answer, "reason": "round_open"}
        answer["response_rate"] = _number(rules.response_rate(doc["respondents"], doc["members"]))
        current, tallies = results_of(doc), tallies_of(doc)
        if current is None or tallies is None:
            return {**answer, "reason": "too_few_respondents"}
        earlier = await self._rounds.earlier_with_results(doc, 1)
        previous = results_of(earlier[0]) if earlier else None
        trends = rules.card_trends(current, previous)
        raised = await self._raised(doc)
        titles = {c["card_id"]: c["title"] for c in doc["cards"]}
        cards = []
        for tally in tallies:
            r = current[tally.card_id]
            cards.append(
                {
                    "card_id": r.card_id,
                    "title": titles.get(r.card_id, r.card_id),
                    "n": r.n,
                    "green": r.green,
                    "amber": r.amber,
                    "red": r.red,
                    "score": _number(r.score),
                    "colour": r.colour,
                    "mixed": _number(r.mixed),
                    "trend": trends[r.card_id],
                    "felt_trend": {"up": tally.up, "same": tally.same, "down": tally.down},
                    "comments": tally.comments,
                    "alerts": raised.get(r.card_id, []),
                }
            )
        previous_id = earlier[0]["_id"] if earlier else None
        return {**answer, "previous_round_id": previous_id, "results": cards}

    async def _raised(self, doc: Doc) -> dict[str, list[str]]:
        """The alerts raised for the round's cards, by card."""
        ids = {
            "|".join(alert_parts(doc["community_id"], alert, doc["_id"], {"card": c["card_id"]})): (
                c["card_id"],
                alert,
            )
            for c in doc["cards"]
            for alert in rules.ALERTS
        }
        found = await self._alerts.find({"_id": {"$in": list(ids)}}, {"_id": 1}).to_list(None)
        raised: dict[str, list[str]] = {}
        for d in found:
            card, alert = ids[d["_id"]]
            raised.setdefault(card, []).append(alert)
        return {card: sorted(alerts) for card, alerts in raised.items()}
