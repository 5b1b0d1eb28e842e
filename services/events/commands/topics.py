"""The topic backlog's commands: propose, vote and take a vote back, and the stewards' schedule,
decline, merge and reopen. Each loads what it decides on from the projection, lets the domain
decide (`domain/topic.py`) and publishes the event the domain returns.

A community's backlog decisions take turns (`Turns`, `adapters/backlog_turns.py`): each waits
until the projection shows the decision before it, so that two votes at once never both pass
the budget, nor a vote a topic that was just scheduled. Proposing needs no turn: it decides on
nothing but the roster.
"""

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from services.events.adapters.backlog_turns import BacklogBusy, Turn
from services.events.domain import community as communities
from services.events.domain import topic as topics
from services.events.domain.actor import Actor
from services.events.domain.session import SessionState
from services.events.domain.topic import Ballot, TopicState
from shared.events.catalog import EventData, SessionScheduled, TopicProposed
from shared.events.envelope import CloudEvent
from shared.kafka import Emitter
from shared.waiting import wait_until

SOURCE = "cop/events"
T = TypeVar("T")


class TopicStates(Protocol):
    """What the backlog's commands read: the projection, or an in-memory stand-in."""

    async def was_applied(self, event_id: str) -> bool: ...
    async def community_state(self, community_id: str) -> communities.CommunityState | None: ...
    async def session_state(self, session_id: str) -> SessionState | None: ...
    async def topic_state(self, topic_id: str) -> TopicState | None: ...
    async def active_votes(self, community_id: str, member_id: str) -> frozenset[str]: ...


class Turns(Protocol):
    def turn(self, community_id: str) -> AbstractAsyncContextManager[Turn]: ...


@dataclass(frozen=True)
class VoteOutcome:
    """A member's vote on a topic after a command, and their budget; `event` is None when the
    command changed nothing."""

    topic_id: str
    community_id: str
    voted: bool
    ballot: Ballot
    event: CloudEvent | None


class TopicCommands:
    def __init__(
        self, bus: Emitter, projection: TopicStates, turns: Turns, *, vote_budget: int
    ) -> None:
        self._bus = bus
        self.projection = projection
        self._turns = turns
        self.vote_budget = vote_budget

    async def wait_applied(self, event_id: str, timeout_s: float = 10.0) -> bool:
        return await wait_until(lambda: self.projection.was_applied(event_id), timeout_s=timeout_s)

    async def _publish(self, data: EventData) -> CloudEvent:
        return await self._bus.emit(data, source=SOURCE)

    async def _community(self, community_id: str) -> communities.CommunityState:
        return communities.require(
            await self.projection.community_state(community_id), community_id
        )

    async def _topic(self, topic_id: str) -> TopicState:
        return topics.require(await self.projection.topic_state(topic_id), topic_id)

    async def _in_turn(
        self, topic_id: str, decide: Callable[[TopicState, Turn], Awaitable[T]]
    ) -> T:
        """Runs `decide` in the turn of the topic's community, on the topic as the projection
        shows it once every earlier decision of the community is in it."""
        community_id = (await self._topic(topic_id)).community_id
        async with self._turns.turn(community_id) as turn:
            previous = turn.previous_event_id
            if previous is not None and not await self.wait_applied(previous):
                raise BacklogBusy(
                    "backlog_busy", f"the backlog of {community_id} is catching up; retry later"
                )
            return await decide(await self._topic(topic_id), turn)

    async def _publish_in(self, turn: Turn, data: EventData) -> CloudEvent:
        event = await self._publish(data)
        turn.published(event.id)
        return event

    async def _ballot(self, community_id: str, member_id: str) -> Ballot:
        return Ballot(self.vote_budget, await self.projection.active_votes(community_id, member_id))

    # --- members ---

    async def propose(self, data: TopicProposed, actor: Actor) -> CloudEvent:
        community = await self._community(data.community_id)
        return await self._publish(topics.propose(community, actor, data))

    async def vote(self, topic_id: str, actor: Actor) -> VoteOutcome:
        async def decide(topic: TopicState, turn: Turn) -> VoteOutcome:
            community = await self._community(topic.community_id)
            ballot = await self._ballot(topic.community_id, actor.member_id)
            voted = topics.vote(community, topic, ballot, actor)
            event = await self._publish_in(turn, voted) if voted is not None else None
            if event is not None:
                ballot = Ballot(ballot.budget, ballot.active_topic_ids | {topic_id})
            return VoteOutcome(topic_id, topic.community_id, True, ballot, event)

        return await self._in_turn(topic_id, decide)

    async def unvote(self, topic_id: str, actor: Actor) -> VoteOutcome:
        async def decide(topic: TopicState, turn: Turn) -> VoteOutcome:
            community = await self._community(topic.community_id)
            ballot = await self._ballot(topic.community_id, actor.member_id)
            taken_back = topics.unvote(community, topic, actor)
            event = await self._publish_in(turn, taken_back) if taken_back is not None else None
            if event is not None:
                ballot = Ballot(ballot.budget, ballot.active_topic_ids - {topic_id})
            return VoteOutcome(topic_id, topic.community_id, False, ballot, event)

        return await self._in_turn(topic_id, decide)

    # --- stewards ---

    async def schedule(
        self, topic_id: str, session_id: str, details: Mapping[str, Any], actor: Actor
    ) -> CloudEvent:
        """The topic becomes a session: `details` are the session's fields, those left out
        (title, speakers, tags) taken from the topic."""

        async def decide(topic: TopicState, turn: Turn) -> CloudEvent:
            community = await self._community(topic.community_id)
            session = SessionScheduled.model_validate(
                {
                    "title": topic.title,
                    "speaker_ids": list(topic.speaker_ids),
                    "tags": list(topic.tags),
                    **details,
                    "session_id": session_id,
                    "community_id": topic.community_id,
                }
            )
            existing = await self.projection.session_state(session_id)
            scheduled = topics.schedule(community, topic, existing, session, actor)
            return await self._publish_in(turn, scheduled)

        return await self._in_turn(topic_id, decide)

    async def decline(self, topic_id: str, reason: str, actor: Actor) -> CloudEvent:
        async def decide(topic: TopicState, turn: Turn) -> CloudEvent:
            community = await self._community(topic.community_id)
            return await self._publish_in(turn, topics.decline(community, topic, reason, actor))

        return await self._in_turn(topic_id, decide)

    async def merge(self, topic_id: str, into_topic_id: str, actor: Actor) -> CloudEvent:
        async def decide(topic: TopicState, turn: Turn) -> CloudEvent:
            community = await self._community(topic.community_id)
            into = await self.projection.topic_state(into_topic_id)
            merged = topics.merge(community, topic, into, actor, into_topic_id=into_topic_id)
            return await self._publish_in(turn, merged)

        return await self._in_turn(topic_id, decide)

    async def reopen(self, topic_id: str, actor: Actor) -> CloudEvent:
        async def decide(topic: TopicState, turn: Turn) -> CloudEvent:
            community = await self._community(topic.community_id)
            return await self._publish_in(turn, topics.reopen(community, topic, actor))

        return await self._in_turn(topic_id, decide)
