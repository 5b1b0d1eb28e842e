"""Backlog rules: members propose topics and vote for the open ones within a budget of active
votes; the community's stewards schedule a topic (it becomes a session), decline, merge or
reopen it. Each command's rule decides and returns the event it produces, or None when the
command changes nothing (a second vote, taking back a vote never given).

An active vote is a vote on an open topic: a topic that leaves `open` (scheduled, declined,
merged) releases its votes from its voters' budgets. Votes moved by a merge, and votes made
active again by a reopening, count even beyond the budget: they are never refused after the
fact, only new votes are.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.events.domain import session as sessions
from services.events.domain.actor import Actor
from services.events.domain.community import CommunityState, require_steward
from shared.events.bounds import MAX_TOPIC_VOTERS
from shared.events.catalog import (
    SessionScheduled,
    TopicDeclined,
    TopicMerged,
    TopicProposed,
    TopicReopened,
    TopicUnvoted,
    TopicVoted,
)
from shared.refusals import Forbidden, Invalid, NotFound, Refused

NOT_A_MEMBER = "not_a_member"
NOT_OPEN = "topic_not_open"
BUDGET_EXHAUSTED = "vote_budget_exhausted"


class TopicStatus(StrEnum):
    OPEN = "open"
    SCHEDULED = "scheduled"
    DONE = "done"
    DECLINED = "declined"
    MERGED = "merged"


@dataclass(frozen=True)
class TopicState:
    topic_id: str
    community_id: str
    status: TopicStatus
    title: str
    proposed_by: str
    speaker_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    voter_ids: tuple[str, ...] = ()  # in the order they voted
    session_id: str | None = None
    session_cancelled: bool = False  # the session it was scheduled as was cancelled


@dataclass(frozen=True)
class Ballot:
    """A member's votes in one community that count against their budget."""

    budget: int
    active_topic_ids: frozenset[str] = frozenset()

    @property
    def active(self) -> int:
        return len(self.active_topic_ids)

    @property
    def left(self) -> int:
        return max(self.budget - self.active, 0)


def require(state: TopicState | None, topic_id: str) -> TopicState:
    if state is None:
        raise NotFound("topic_not_found", f"no topic {topic_id}")
    return state


def require_member(community: CommunityState, actor: Actor, action: str) -> None:
    """Proposing and voting are a member's own: an admin who is not a member does neither."""
    if actor.member_id not in community.members:
        raise Forbidden(NOT_A_MEMBER, f"only members of {community.community_id} may {action}")


def _require_open(topic: TopicState, action: str) -> None:
    if topic.status is not TopicStatus.OPEN:
        refused = Refused(NOT_OPEN, f"topic {topic.topic_id} is {topic.status}: {action}")
        refused.details = {"topic_id": topic.topic_id, "topic_status": topic.status.value}
        raise refused


def propose(community: CommunityState, actor: Actor, data: TopicProposed) -> TopicProposed:
    require_member(community, actor, "propose topics")
    return data.model_copy(update={"proposed_by": actor.member_id})


def vote(
    community: CommunityState, topic: TopicState, ballot: Ballot, actor: Actor
) -> TopicVoted | None:
    """One vote per member per topic: a second one changes nothing."""
    require_member(community, actor, "vote for its topics")
    if actor.member_id in topic.voter_ids:
        return None
    _require_open(topic, "only open topics take votes")
    if ballot.active >= ballot.budget:
        refused = Refused(
            BUDGET_EXHAUSTED,
            f"{actor.member_id} has {ballot.active} active votes in {community.community_id}, "
            f"the budget is {ballot.budget}: take one back, or wait for a topic to be scheduled",
        )
        refused.details = {"budget": ballot.budget, "active": ballot.active}
        raise refused
    return TopicVoted(
        topic_id=topic.topic_id, community_id=topic.community_id, member_id=actor.member_id
    )


def unvote(community: CommunityState, topic: TopicState, actor: Actor) -> TopicUnvoted | None:
    """Taking back a vote never given changes nothing; a vote on a topic that left `open` stays
    (it no longer counts against the budget, and its voters are who the session invites)."""
    require_member(community, actor, "vote for its topics")
    if actor.member_id not in topic.voter_ids:
        return None
    _require_open(topic, "a vote is taken back while the topic is open")
    return TopicUnvoted(
        topic_id=topic.topic_id, community_id=topic.community_id, member_id=actor.member_id
    )


def schedule(
    community: CommunityState,
    topic: TopicState,
    existing_session: sessions.SessionState | None,
    session: SessionScheduled,
    actor: Actor,
) -> SessionScheduled:
    """The topic becomes a session of its community, which invites the topic's voters."""
    require_steward(community, actor, "schedule its topics")
    _require_open(topic, "only open topics are scheduled")
    linked = session.model_copy(
        update={"topic_id": topic.topic_id, "voter_ids": list(topic.voter_ids[:MAX_TOPIC_VOTERS])}
    )
    return sessions.schedule(community, existing_session, linked, actor)


def decline(
    community: CommunityState, topic: TopicState, reason: str, actor: Actor
) -> TopicDeclined:
    require_steward(community, actor, "decline its topics")
    _require_open(topic, "only open topics are declined")
    return TopicDeclined(
        topic_id=topic.topic_id,
        community_id=topic.community_id,
        reason=reason,
        declined_by=actor.member_id,
    )


def merge(
    community: CommunityState,
    topic: TopicState,
    into: TopicState | None,
    actor: Actor,
    *,
    into_topic_id: str,
) -> TopicMerged:
    require_steward(community, actor, "merge its topics")
    if into is None:
        raise Invalid("topic_not_found", f"no topic {into_topic_id}", field="into_topic_id")
    if into.topic_id == topic.topic_id:
        raise Invalid(
            "merge_into_itself", "a topic is merged into another one", field="into_topic_id"
        )
    if into.community_id != topic.community_id:
        raise Invalid(
            "other_community",
            f"{into.topic_id} is a topic of another community",
            field="into_topic_id",
        )
    _require_open(topic, "only open topics are merged")
    _require_open(into, "topics are merged into open ones")
    return TopicMerged(
        topic_id=topic.topic_id,
        community_id=topic.community_id,
        into_topic_id=into.topic_id,
        merged_by=actor.member_id,
    )


def may_reopen(topic: TopicState) -> bool:
    """Declined topics, and scheduled ones whose session was cancelled, may open again."""
    return topic.status is TopicStatus.DECLINED or (
        topic.status is TopicStatus.SCHEDULED and topic.session_cancelled
    )


def reopen(community: CommunityState, topic: TopicState, actor: Actor) -> TopicReopened:
    require_steward(community, actor, "reopen its topics")
    if not may_reopen(topic):
        refused = Refused(
            "topic_not_reopenable",
            f"topic {topic.topic_id} is {topic.status}: declined topics, and scheduled ones "
            "whose session was cancelled, are reopened",
        )
        refused.details = {"topic_id": topic.topic_id, "topic_status": topic.status.value}
        raise refused
    return TopicReopened(
        topic_id=topic.topic_id, community_id=topic.community_id, reopened_by=actor.member_id
    )


# --- ordering the backlog: the same from the same actions, whoever computes it ---


@dataclass(frozen=True)
class Listed:
    """What a topic is ordered by."""

    topic_id: str
    status: TopicStatus
    votes: int
    proposed_at: datetime
    volunteers: int


def active_votes(topic: Listed) -> int:
    return topic.votes if topic.status is TopicStatus.OPEN else 0


def wanted(topics: Collection[Listed]) -> list[Listed]:
    """Most active votes first, then the earliest proposed, then by `topic_id`."""
    return sorted(topics, key=lambda t: (-active_votes(t), t.proposed_at, t.topic_id))


def newest(topics: Collection[Listed]) -> list[Listed]:
    """The latest proposed first, then by `topic_id`."""
    by_id = sorted(topics, key=lambda t: t.topic_id)
    return sorted(by_id, key=lambda t: t.proposed_at, reverse=True)


def ready(topics: Collection[Listed]) -> list[Listed]:
    """Open topics with at least one volunteer speaker, ordered as `wanted`."""
    return wanted([t for t in topics if t.status is TopicStatus.OPEN and t.volunteers > 0])
