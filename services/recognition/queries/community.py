"""Recognition's read side: profiles, leaderboards, health, the kudos feed. Reads by `_id` only;
health keeps the numbers of ended periods it computes (`adapters/health_store.py`)."""

import asyncio
from datetime import datetime

from services.recognition.adapters.health_checks import HealthCheckRounds
from services.recognition.adapters.health_reads import HealthReads
from services.recognition.adapters.leaderboard import Leaderboards
from services.recognition.adapters.projection import (
    RecognitionProjection,
    standing_in_week,
    standing_of,
)
from services.recognition.domain import badges, health
from services.recognition.domain import health_checks as health_check_rules
from services.recognition.domain.periods import Period, month_key, month_range, parse
from services.recognition.domain.standing import Standing, total
from shared.community_health import HealthGoal, HealthMetrics, evaluate_all
from shared.documents import Doc
from shared.events.envelope import utc_now

FEED_MONTHS_PER_READ = 6


def standing_in(rollup: Doc, period: Period) -> Standing:
    if period.kind == "all":
        return standing_of(rollup)
    if period.kind == "week":
        return standing_in_week(rollup, period.key)
    return standing_of(rollup, period.months())


def _window(period: Period) -> dict[str, str]:
    return {"period": period.key, "start": period.start.isoformat(), "end": period.end.isoformat()}


def _numbers(period: Period, metrics: HealthMetrics, goals: list[HealthGoal]) -> Doc:
    """A period's metrics, and each of the community's goals judged on them."""
    return {**_window(period), "metrics": metrics, "goals": evaluate_all(goals, metrics)}


class RecognitionQueries:
    def __init__(self, projection: RecognitionProjection, boards: Leaderboards) -> None:
        self._p = projection
        self._boards = boards
        self._health = HealthReads(projection)
        self._rounds = HealthCheckRounds(projection.db)

    async def kudos(self, kudos_id: str) -> Doc | None:
        doc = await self._p.kudos_record(kudos_id)
        if doc is None:
            return None
        doc.pop("_id")
        doc["status"] = "judged" if "recipients" in doc else "pending"
        doc.setdefault("counted_for", [])
        doc.setdefault("recipients", [])
        return doc

    async def profile(self, member_id: str, community_id: str | None, period: Period) -> Doc:
        rollups = (await self._p.rollups_of([member_id]))[member_id]
        if community_id is not None:
            rollups = [r for r in rollups if r["community_id"] == community_id]
        per_community = sorted(
            (
                {"community_id": r["community_id"], **standing_in(r, period).public()}
                for r in rollups
            ),
            key=lambda c: str(c["community_id"]),
        )
        earned = await self._p.badges_of(member_id, badges.REASONS)
        return {
            "member_id": member_id,
            "scope": {"community_id": community_id, "period": period.key},
            **total(standing_in(r, period) for r in rollups).public(),
            "badges": sorted(
                (
                    {
                        "badge": b["badge"],
                        "community_id": b["community_id"],
                        "reason": b.get("reason", ""),
                        "awarded_at": b.get("at"),
                    }
                    for b in earned
                ),
                key=lambda b: str(b["badge"]),
            ),
            "communities": per_community,
        }

    async def leaderboard(self, community_id: str, period: Period, limit: int) -> list[Doc]:
        if not await self._boards.is_built(community_id, period.key):
            rollups = await self._p.community_rollups(community_id)
            scores = {r["member_id"]: standing_in(r, period).score for r in rollups}
            await self._boards.raise_scores(
                community_id, {period.key: {m: s for m, s in scores.items() if s > 0}}
            )
            await self._boards.mark_built(community_id, period.key)
        top = await self._boards.top(community_id, period.key, limit)
        return [
            {"rank": rank, "member_id": member, "score": score}
            for rank, (member, score) in enumerate(top, start=1)
        ]

    async def health(self, community_id: str, period: Period) -> Doc:
        previous = period.previous()
        numbers, goals = await asyncio.gather(
            self._health.numbers(community_id, [previous, period], utc_now()),
            self._goals(community_id),
        )
        return {
            "community_id": community_id,
            **_numbers(period, numbers[period.key], goals),
            "previous": _numbers(previous, numbers[previous.key], goals),
        }

    async def trend(self, community_id: str, first: str, last: str) -> Doc:
        months = month_range(first, last)
        numbers, goals = await asyncio.gather(
            self._health.numbers(community_id, months, utc_now()), self._goals(community_id)
        )
        return {
            "community_id": community_id,
            "from": first,
            "to": last,
            "months": [_numbers(m, numbers[m.key], goals) for m in months],
        }

    async def _goals(self, community_id: str) -> list[HealthGoal]:
        """The goals of the community's current charter (judged when asked, never kept)."""
        community = await self._p.communities.find_one({"_id": community_id}, {"health_goals": 1})
        return [HealthGoal.model_validate(g) for g in (community or {}).get("health_goals", [])]

    async def alerts(self, community_id: str) -> list[Doc]:
        """The month's alerts, oldest month first, then those of its health-check rounds, in
        the order the rounds closed. Read by `_id`: an alert's id is its community, name and
        period (a month, or a round and one of its cards)."""
        community = await self._p.community(community_id)
        first = community.get("first_month")
        months = [] if first is None else month_range(first, month_key(utc_now()))
        monthly = [f"{community_id}|{a}|{m.key}" for m in months for a in sorted(health.ALERTS)]
        rounds = [r for r in await self._rounds.rounds_of(community_id) if r.get("tallies")]
        rounds.sort(key=lambda r: (r["closed_at"], r["_id"]))
        of_rounds = [
            f"{community_id}|{a}|{r['_id']}|{card['card_id']}"
            for r in rounds
            for card in r["cards"]
            for a in health_check_rules.ALERTS
        ]
        ids = monthly + of_rounds
        found = {
            d["_id"]: d for d in await self._p.alerts.find({"_id": {"$in": ids}}).to_list(None)
        }
        return [
            {
                "alert": d["alert"],
                "period": d["period"],
                "details": d.get("details", {}),
                "raised_at": d.get("at"),
            }
            for d in (found[i] for i in ids if i in found)
        ]

    async def feed(self, community_id: str, before: datetime, limit: int) -> Doc:
        """Counted kudos, newest first, given before `before`; month buckets read backwards."""
        community = await self._p.community(community_id)
        first = community.get("first_month")
        items: list[Doc] = []
        month = parse(month_key(before))
        while first is not None and month.key >= first and len(items) < limit:
            chunk = [month]
            while len(chunk) < FEED_MONTHS_PER_READ and chunk[-1].key > first:
                chunk.append(chunk[-1].previous())
            for bucket in await self._p.buckets(community_id, [m.key for m in chunk], "kudos"):
                for kudos_id, giver, counted, at, tag, message in bucket.get("kudos", {}).values():
                    if at < before:
                        items.append(
                            {
                                "kudos_id": kudos_id,
                                "from_id": giver,
                                "counted_for": counted,
                                "value_tag": tag,
                                "message": message,
                                "given_at": at,
                            }
                        )
            month = chunk[-1].previous()
        items.sort(key=lambda k: (k["given_at"], k["kudos_id"]), reverse=True)
        page = items[:limit]
        more = len(items) > limit or (first is not None and month.key >= first)
        return {"items": page, "next_before": page[-1]["given_at"] if page and more else None}
