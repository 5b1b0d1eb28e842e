"""Health-check commands: a leader opens a round, members answer it, and it closes (by its
leader, or by itself when its closing time comes: `jobs.py`).

Opening and closing are events. Answers are not: while the round is open they are kept in its
ballot box, each member's under a key only the round's secret can compute, and what leaves the
ballot box is the closing event's anonymous tallies (docs/recognition.md, how anonymity is
guaranteed).
"""

import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.recognition.adapters.decisions import SOURCE, decision_id
from services.recognition.adapters.health_checks import Ballot
from services.recognition.domain import health_checks as rules
from services.recognition.domain.health_checks import AnswerSet
from shared.actor import Actor
from shared.events.catalog import HealthCheckCard, HealthCheckOpened, HealthCheckTemplate
from shared.events.envelope import CloudEvent, new_event, utc_now
from shared.refusals import NotFound, Refused

log = logging.getLogger(__name__)
ROUND_KEY_BYTES = 32


class Publisher(Protocol):
    async def publish(self, event: CloudEvent) -> str: ...


class BallotBoxes(Protocol):
    """The rounds' private ballot boxes (`adapters/health_checks.Ballots`)."""

    async def open(self, opened: HealthCheckOpened, key: bytes) -> None: ...
    async def discard(self, round_id: str) -> None: ...
    async def get(self, round_id: str) -> Ballot | None: ...
    async def put(self, round_id: str, answer_key: str, answers: AnswerSet) -> bool: ...
    async def answers_at(self, round_id: str, answer_key: str) -> AnswerSet | None: ...
    async def answered(self, round_id: str, member_id: str) -> None: ...
    async def start_closing(self, round_id: str) -> tuple[Ballot, list[AnswerSet]] | None: ...
    async def finish_closing(self, round_id: str) -> None: ...
    async def due(self, now: datetime) -> list[str]: ...


class Communities(Protocol):
    """Who leads a community and who belongs to it (the projection)."""

    async def members(self, community_id: str, at: datetime) -> tuple[str | None, set[str]]: ...


@dataclass(frozen=True)
class OpenRound:
    community_id: str
    template: HealthCheckTemplate
    closes_at: datetime
    min_respondents: int = rules.MIN_RESPONDENTS
    extra_cards: Sequence[HealthCheckCard] = ()


def closed_event_id(round_id: str) -> str:
    """A round closes once: closing it again publishes a duplicate."""
    return decision_id("health_check.closed", round_id)


class HealthCheckCommands:
    def __init__(self, bus: Publisher, ballots: BallotBoxes, communities: Communities) -> None:
        self._bus = bus
        self._ballots = ballots
        self._communities = communities

    async def open_round(self, cmd: OpenRound, actor: Actor) -> CloudEvent:
        now = utc_now()
        leader, _ = await self._communities.members(cmd.community_id, now)
        if leader is None:
            raise NotFound("community_not_found", f"no community {cmd.community_id} known here")
        rules.require_steward(leader, actor.member_id, actor.is_admin, "open a health check")
        opened = rules.open_round(
            round_id=uuid.uuid4().hex,
            community_id=cmd.community_id,
            template=cmd.template,
            extra_cards=cmd.extra_cards,
            closes_at=cmd.closes_at,
            min_respondents=cmd.min_respondents,
            opened_by=actor.member_id,
            now=now,
        )
        # The ballot box first: a round that is announced can always be answered.
        await self._ballots.open(opened, secrets.token_bytes(ROUND_KEY_BYTES))
        event = new_event(opened, source=SOURCE, time=now)
        try:
            await self._bus.publish(event)
        except BaseException:
            await self._ballots.discard(opened.round_id)
            raise
        return event

    async def _ballot(self, round_id: str) -> Ballot:
        ballot = await self._ballots.get(round_id)
        if ballot is None:
            raise NotFound("round_not_found", f"no health-check round {round_id}")
        return ballot

    async def answer(self, round_id: str, member_id: str, answers: AnswerSet) -> None:
        """Set (or replace) the member's answers while the round is open."""
        ballot = await self._ballot(round_id)
        now = utc_now()
        _, members = await self._communities.members(ballot.community_id, now)
        rules.require_member(member_id, members)
        rules.require_open(ballot.state, ballot.closes_at, now)
        rules.check_answers(ballot.card_ids, answers)
        if ballot.key is None or not await self._ballots.put(
            round_id, rules.answer_key(ballot.key, member_id), answers
        ):
            raise rules.round_closed()  # closed since it was read
        await self._ballots.answered(round_id, member_id)

    async def answers_of(self, round_id: str, member_id: str) -> AnswerSet:
        """The member's own answers, while the round is open."""
        ballot = await self._ballot(round_id)
        rules.require_open(ballot.state, ballot.closes_at, utc_now())
        found = None
        if ballot.key is not None:
            found = await self._ballots.answers_at(
                round_id, rules.answer_key(ballot.key, member_id)
            )
        if found is None:
            raise NotFound("no_answers", "you have not answered this round")
        return found

    async def close(self, round_id: str, actor: Actor | None) -> CloudEvent:
        """Close the round: by its community's leader or an admin, or (no actor) because its
        closing time has come."""
        ballot = await self._ballot(round_id)
        now = utc_now()
        if actor is not None:
            leader, _ = await self._communities.members(ballot.community_id, now)
            rules.require_steward(leader, actor.member_id, actor.is_admin, "close its rounds")
        started = await self._ballots.start_closing(round_id)
        if started is None:
            raise rules.round_closed()
        ballot, answer_sets = started
        _, members = await self._communities.members(ballot.community_id, now)
        closed = rules.close_round(
            round_id=round_id,
            community_id=ballot.community_id,
            template=ballot.template,
            card_ids=ballot.card_ids,
            min_respondents=ballot.min_respondents,
            answer_sets=answer_sets,
            members=len(members),
        )
        event = new_event(closed, source=SOURCE, event_id=closed_event_id(round_id), time=now)
        await self._bus.publish(event)
        await self._ballots.finish_closing(round_id)
        return event

    async def close_due(self, now: datetime | None = None) -> int:
        """Close every round whose closing time has come; returns how many were closed."""
        closed = 0
        for round_id in await self._ballots.due(now or utc_now()):
            try:
                await self.close(round_id, None)
            except Refused:  # closed meanwhile, by its leader or another replica
                continue
            closed += 1
        return closed
