"""Recognition's background jobs, on timers: the health evaluation of months that have ended
(health alerts, and the quarter's consistent attendees), and closing the health-check rounds
whose closing time has come."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from services.recognition.adapters.decisions import Decisions
from services.recognition.adapters.health_reads import HealthReads
from services.recognition.adapters.projection import RecognitionProjection
from services.recognition.commands.health_checks import HealthCheckCommands
from services.recognition.domain import badges, health
from services.recognition.domain.periods import Period, parse, quarter_key
from shared.events.envelope import utc_now

log = logging.getLogger(__name__)


class HealthEvaluation:
    def __init__(
        self,
        projection: RecognitionProjection,
        decisions: Decisions,
        *,
        settle_s: float,
        records_behind: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.projection = projection
        self._decisions = decisions
        self._health = HealthReads(projection)
        self._settle = timedelta(seconds=settle_s)
        self._records_behind = records_behind

    async def evaluate(self, now: datetime | None = None) -> int:
        """Evaluate the ended months that facts changed and that have been quiet for a while:
        health alerts, and the quarter's consistent attendees. Skipped while the projection is
        behind its topics, so that nothing is judged on half-applied history. Returns the number
        of months evaluated."""
        now = now or utc_now()
        if self._records_behind is not None and await self._records_behind() > 0:
            return 0
        evaluated = 0
        cursor = self.projection.communities.find(
            {"dirty": {"$exists": True}}, {"dirty": 1, "session_months": 1}
        )
        async for community in cursor:
            for month, stamp in sorted(community.get("dirty", {}).items()):
                if parse(month).end > now or stamp > now - self._settle:
                    continue
                await self._evaluate_month(community["_id"], parse(month), now)
                await self.projection.communities.update_one(
                    {"_id": community["_id"], f"dirty.{month}": stamp},
                    {"$unset": {f"dirty.{month}": ""}},
                )
                evaluated += 1
        return evaluated

    async def _evaluate_month(self, community_id: str, changed: Period, now: datetime) -> None:
        """A month's facts feed that month's numbers and the stagnation trend of the 3 after it."""
        affected = [changed]
        while len(affected) < health.STAGNATION_MONTHS and affected[-1].following().end <= now:
            affected.append(affected[-1].following())
        periods = [
            changed.previous().previous().previous(),
            changed.previous().previous(),
            changed.previous(),
            *affected,
        ]
        history = await self._health.history(community_id, periods)
        numbers = {p.key: health.metrics(p, history) for p in periods}
        raised: list[tuple[str, str, Any]] = []
        for i, period in enumerate(periods[3:], start=3):
            trend = [numbers[p.key].avg_attendance for p in periods[i - 3 : i + 1]]
            for alert, details in health.alerts(numbers[period.key], trend).items():
                raised.append((period.key, alert, details))
        await self._decisions.raise_alerts(community_id, raised)
        quarter = parse(quarter_key(changed.start))
        if quarter.end <= now:
            await self._consistent_attendees(community_id, quarter)

    async def _consistent_attendees(self, community_id: str, quarter: Period) -> None:
        buckets = await self.projection.buckets(community_id, quarter.months(), "sessions")
        sessions = [
            health.HeldSession(sid, at, fac, tuple(speakers), tuple(attendees))
            for b in buckets
            for sid, at, fac, speakers, attendees in b.get("sessions", {}).values()
        ]
        members = badges.consistent_attendees(sessions)
        await self._decisions.award(
            [(m, "consistent_attendee", community_id) for m in sorted(members)]
        )


async def evaluate_periodically(
    evaluation: HealthEvaluation, interval_s: float, stopping: asyncio.Event
) -> None:
    """A round every `interval_s` until `stopping` is set."""
    await _periodically(evaluation.evaluate, "health evaluation", interval_s, stopping)


async def close_rounds_periodically(
    commands: HealthCheckCommands, interval_s: float, stopping: asyncio.Event
) -> None:
    """Every `interval_s` until `stopping` is set, close the rounds that are due (found by an
    index on their closing time: a round is read only when it is due)."""
    await _periodically(commands.close_due, "closing due health-check rounds", interval_s, stopping)


async def _periodically(
    run_round: Callable[[], Awaitable[object]],
    name: str,
    interval_s: float,
    stopping: asyncio.Event,
) -> None:
    """`run_round` every `interval_s` until `stopping` is set. A round that fails (an outage)
    is logged under `name`, and the next round tries again."""
    # Ends on the stop flag as well as on cancellation: a client library that swallows a
    # cancellation mid-round must not keep the service from stopping.
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval_s):
                await stopping.wait()
        if stopping.is_set():
            return
        try:
            await run_round()
        except Exception:
            log.exception("%s failed; retrying next round", name)
