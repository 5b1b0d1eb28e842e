"""Recognition's commands: a member gives kudos. The judge decides what counts
(`event_handlers.py`); badges and leaderboards follow each applied batch (`event_handlers.py`),
the health evaluation runs on a timer (`jobs.py`); reads for the HTTP API are in `queries.py`.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.recognition.adapters.decisions import SOURCE
from services.recognition.adapters.judge import KudosAllowances
from services.recognition.adapters.reservations import Reservations
from services.recognition.domain.kudos import KudosPolicy
from services.recognition.domain.periods import period_of
from shared.events.catalog import KudosGiven
from shared.events.envelope import CloudEvent, new_event, utc_now
from shared.kafka import EventBus


@dataclass(frozen=True)
class GiveKudos:
    from_id: str
    to_ids: list[str]
    community_id: str
    message: str
    value_tag: str
    session_id: str | None = None
    artifact_id: str | None = None


@dataclass(frozen=True)
class AllowanceLeft:
    """What a member's next kudos is checked against."""

    allowance: int
    period: str
    period_key: str
    used: int
    left: int
    renews_at: datetime
    value_tags: list[str]


class RecognitionCommands:
    def __init__(
        self,
        bus: EventBus,
        policy: KudosPolicy,
        allowances: KudosAllowances,
        reservations: Reservations,
    ) -> None:
        self._bus = bus
        self._policy = policy
        self._allowances = allowances
        self._reservations = reservations

    async def allowance_left(self, member_id: str) -> AllowanceLeft:
        """The units of the current period's allowance used (judged or reserved by requests
        still on their way) and left, and when it renews."""
        period = period_of(self._policy.period, utc_now())
        used = max(
            await self._allowances.used(member_id, period.key),
            await self._reservations.reserved(member_id, period.key),
        )
        return AllowanceLeft(
            allowance=self._policy.allowance,
            period=self._policy.period,
            period_key=period.key,
            used=used,
            left=max(self._policy.allowance - used, 0),
            renews_at=period.end,
            value_tags=sorted(self._policy.value_tags),
        )

    async def give_kudos(self, cmd: GiveKudos) -> CloudEvent:
        """Refuse what a member would not mean to send, then publish; the judge decides."""
        self._policy.check_request(cmd.from_id, cmd.to_ids, cmd.value_tag)
        now = utc_now()
        period, units = self._policy.period_of(now), len(cmd.to_ids)
        self._policy.check_remaining(await self._allowances.used(cmd.from_id, period), units)
        if not await self._reservations.reserve(cmd.from_id, period, units, self._policy.allowance):
            self._policy.check_remaining(self._policy.allowance, units)
        try:
            event = new_event(
                KudosGiven(kudos_id=str(uuid.uuid4()), **cmd.__dict__), source=SOURCE, time=now
            )
            await self._bus.publish(event)
        except BaseException:
            await self._reservations.release(cmd.from_id, period, units)
            raise
        return event
