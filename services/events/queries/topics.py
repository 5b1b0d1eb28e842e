"""Reads of a community's topic backlog: the list in the order asked for, one topic, and a
member's votes against their budget. Each reads the community's index of topics by `_id`,
orders it here (`domain/topic.py`) and fetches the page's topics by `_id`."""

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import Field

from services.events.adapters.projection import VOTERS, EventsProjection, entries
from services.events.domain import topic as rules
from services.events.domain.topic import Ballot, Listed, TopicStatus
from services.events.queries.communities import Page, Paging, ReadModel
from shared.documents import Doc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TopicOrder(StrEnum):
    WANTED = "wanted"
    NEW = "new"
    READY = "ready"


class Topic(ReadModel):
    topic_id: str
    community_id: str
    title: str
    description: str = ""
    status: TopicStatus
    votes: int = Field(description="members who voted for it (active votes while it is open)")
    voted_by_me: bool = False
    speaker_ids: list[str] = Field(default=[], description="volunteers: 'I can present this'")
    tags: list[str] = Field(default=[])  # ruff cannot tell that ReadModel is pydantic's
    proposed_by: str
    proposed_at: datetime | None = None
    session_id: str | None = Field(None, description="the session it was scheduled as")
    decline_reason: str | None = None
    merged_into: str | None = None


class Votes(ReadModel):
    community_id: str
    member_id: str
    budget: int = Field(description="active votes a member may have in a community")
    active: int = Field(description="the member's votes on open topics")
    left: int = Field(description="max(budget - active, 0)")

    @classmethod
    def of(cls, community_id: str, member_id: str, ballot: Ballot) -> "Votes":
        return cls(
            community_id=community_id,
            member_id=member_id,
            budget=ballot.budget,
            active=ballot.active,
            left=ballot.left,
        )


def _listed(entry: Doc) -> Listed:
    return Listed(
        topic_id=entry["topic_id"],
        status=TopicStatus(entry.get("status", TopicStatus.OPEN)),
        votes=int(entry.get("votes", 0)),
        proposed_at=entry.get("proposed_at") or _EPOCH,
        volunteers=int(entry.get("volunteers", 0)),
    )


ORDERS = {
    TopicOrder.WANTED: rules.wanted,
    TopicOrder.NEW: rules.newest,
    TopicOrder.READY: rules.ready,
}


class TopicQueries:
    def __init__(self, projection: EventsProjection, *, vote_budget: int) -> None:
        self._p = projection
        self.vote_budget = vote_budget

    async def topics(
        self,
        community_id: str,
        *,
        status: TopicStatus | None,
        order: TopicOrder,
        viewer: str | None,
        paging: Paging,
    ) -> Page[Topic]:
        # Entries without a proposal are only known from a later fact that came first.
        listed = [_listed(e) for e in await self._p.topic_index(community_id) if "proposed_at" in e]
        if status is not None:
            listed = [t for t in listed if t.status is status]
        ordered = ORDERS[order](listed)
        page = [t.topic_id for t in ordered[paging.skip : paging.skip + paging.size]]
        docs = await self._p.by_ids(self._p.topics, page)
        return paging.of(len(ordered), [_topic(doc, viewer) for doc in docs])

    async def topic(self, topic_id: str, viewer: str | None) -> Topic | None:
        doc = await self._p.topics.find_one({"_id": topic_id})
        if doc is None or "title" not in doc:
            return None
        return _topic(doc, viewer)

    async def community_known(self, community_id: str) -> bool:
        return await self._p.community(community_id) is not None

    async def ballot(self, community_id: str, member_id: str) -> Ballot:
        active = await self._p.active_votes(community_id, member_id)
        return Ballot(self.vote_budget, active)

    async def votes(self, community_id: str, member_id: str) -> Votes:
        return Votes.of(community_id, member_id, await self.ballot(community_id, member_id))


def _topic(doc: Doc, viewer: str | None) -> Topic:
    voters = entries(doc, VOTERS)
    return Topic.model_validate(
        {
            **doc,
            "topic_id": doc["_id"],
            "votes": len(voters),
            "voted_by_me": viewer is not None and viewer in voters,
        }
    )
