"""The topic backlog's HTTP API: members propose topics and vote for them within a budget of
active votes; the leader, core members and admins schedule (the topic becomes a session),
decline, merge and reopen them. Rules and errors: docs/events.md#the-topic-backlog."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from services.events.commands.topics import TopicCommands, VoteOutcome
from services.events.domain import ids
from services.events.domain.actor import Actor
from services.events.domain.topic import TopicStatus
from services.events.entrypoints.dependencies import (
    AUTH_RESPONSES,
    Accepted,
    RouteDependencies,
    Wait,
)
from services.events.queries.communities import Page, Paging
from services.events.queries.topics import Topic, TopicOrder, TopicQueries, Votes
from shared.auth import Caller
from shared.events.catalog import (
    Agenda,
    Id,
    Instant,
    SessionFormat,
    SessionScheduled,
    ShortText,
    SpeakerIds,
    Tags,
    TopicDeclined,
    TopicProposed,
    TopicProposedFields,
)
from shared.http import Body, NotInBody, Problem, like
from shared.idempotency import Once


class ProposeTopic(TopicProposedFields):
    """The topic; the id may be left to the service, the proposer is the caller."""

    topic_id: Id | None = None
    community_id: NotInBody = None
    proposed_by: NotInBody = None


class TopicAccepted(Accepted):
    topic_id: str


class Vote(BaseModel):
    """The caller's vote on the topic after the request, and their budget in its community."""

    topic_id: str
    community_id: str
    voted_by_me: bool
    budget: int
    active: int = Field(description="the member's votes on open topics")
    left: int = Field(description="max(budget - active, 0)")
    applied: bool = Field(
        description="true when the projection shows the vote (wait=true, or nothing changed)"
    )


class ScheduleTopic(Body):
    """The session the topic becomes; title, speakers and tags default to the topic's."""

    session_id: Id | None = None
    title: ShortText | None = None
    format: SessionFormat
    starts_at: Instant
    duration_minutes: Annotated[int, like(SessionScheduled, "duration_minutes")] = 60
    location: Annotated[str, like(SessionScheduled, "location")] = ""
    facilitator_id: Id
    speaker_ids: SpeakerIds | None = None
    agenda: Agenda = Field(default=[])  # ruff cannot tell that Body is pydantic's
    tags: Tags | None = None


class TopicScheduled(Accepted):
    topic_id: str
    session_id: str


class DeclineTopic(Body):
    """Why the topic is declined."""

    reason: Annotated[str, like(TopicDeclined, "reason")]


class MergeTopic(Body):
    """The open topic of the same community that takes this one's votes."""

    into_topic_id: Id


def router(
    commands: TopicCommands,
    queries: TopicQueries,
    auth: Callable[..., Awaitable[Caller]],
    idempotent: Callable[..., Awaitable[Once]],
) -> APIRouter:
    api = APIRouter(
        tags=["topics"],
        responses={
            **AUTH_RESPONSES,
            503: {"description": "the community's backlog is busy (`backlog_busy`): retry"},
        },
    )
    dependencies = RouteDependencies(auth, idempotent, commands)
    ActorDep = Annotated[Actor, dependencies.actor]
    OnceDep = Annotated[Once, dependencies.once]
    ViewerDep = Annotated[Actor | None, dependencies.viewer]
    answer = dependencies.answer
    decided: dict[str, Any] = {
        "status_code": status.HTTP_202_ACCEPTED,
        "responses": {
            404: {"description": "unknown topic"},
            409: {"description": "the topic's status does not allow it (`topic_not_open`, ...)"},
        },
    }

    async def vote_answer(outcome: VoteOutcome, wait: bool) -> Vote:
        event = outcome.event
        applied = event is None or (wait and await commands.wait_applied(event.id))
        ballot = outcome.ballot
        return Vote(
            topic_id=outcome.topic_id,
            community_id=outcome.community_id,
            voted_by_me=outcome.voted,
            budget=ballot.budget,
            active=ballot.active,
            left=ballot.left,
            applied=applied,
        )

    @api.post(
        "/communities/{community_id}/topics",
        status_code=status.HTTP_201_CREATED,
        description="A member proposes a topic; `speaker_ids` are volunteers ('I can present "
        "this'). Takes `Idempotency-Key`.",
        responses={404: {"description": "unknown community"}},
    )
    async def propose(
        community_id: Id, body: ProposeTopic, actor: ActorDep, once: OnceDep, wait: Wait = False
    ) -> TopicAccepted:
        topic_id = body.topic_id or ids.new_topic_id()
        data = TopicProposed.model_validate(
            {
                **body.model_dump(),
                "topic_id": topic_id,
                "community_id": community_id,
                "proposed_by": actor.member_id,
            }
        )

        async def proposed() -> TopicAccepted:
            accepted = await answer(await commands.propose(data, actor), wait)
            return TopicAccepted(**accepted.model_dump(), topic_id=topic_id)

        return await once(TopicAccepted, proposed)

    @api.get(
        "/communities/{community_id}/topics",
        description="The backlog. `sort=wanted`: active votes, most first, then the earliest "
        "proposed, then `topic_id`; `new`: the latest proposed first; `ready`: open topics with "
        "a volunteer speaker, ordered as `wanted`. `voted_by_me` needs a token.",
    )
    async def list_topics(
        community_id: Id,
        viewer: ViewerDep,
        topic_status: Annotated[TopicStatus | None, Query(alias="status")] = None,
        sort: TopicOrder = TopicOrder.WANTED,
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
        size: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> Page[Topic]:
        return await queries.topics(
            community_id,
            status=topic_status,
            order=sort,
            viewer=viewer.member_id if viewer else None,
            paging=Paging(page, size),
        )

    @api.get("/topics/{topic_id}", responses={404: {"description": "unknown topic"}})
    async def get_topic(topic_id: Id, viewer: ViewerDep) -> Topic:
        found = await queries.topic(topic_id, viewer.member_id if viewer else None)
        if found is None:
            raise Problem(404, "Topic not found", f"no topic {topic_id}")
        return found

    @api.get(
        "/communities/{community_id}/votes/me",
        description="The caller's budget of active votes in the community, and what is left.",
        responses={404: {"description": "unknown community"}},
    )
    async def my_votes(community_id: Id, actor: ActorDep) -> Votes:
        if not await queries.community_known(community_id):
            raise Problem(404, "Community not found", f"no community {community_id}")
        return await queries.votes(community_id, actor.member_id)

    @api.put(
        "/topics/{topic_id}/vote",
        description="Votes for an open topic (a member of its community). A second vote "
        "changes nothing and answers the same. Over the budget: 409 `vote_budget_exhausted` "
        "with `budget` and `active`; a topic that is not open: 409 `topic_not_open`.",
        responses={404: {"description": "unknown topic"}, 409: {"description": "refused"}},
    )
    async def vote(topic_id: Id, actor: ActorDep, wait: Wait = False) -> Vote:
        return await vote_answer(await commands.vote(topic_id, actor), wait)

    @api.delete(
        "/topics/{topic_id}/vote",
        description="Takes the caller's vote back while the topic is open; without a vote, "
        "changes nothing.",
        responses={404: {"description": "unknown topic"}, 409: {"description": "refused"}},
    )
    async def unvote(topic_id: Id, actor: ActorDep, wait: Wait = False) -> Vote:
        return await vote_answer(await commands.unvote(topic_id, actor), wait)

    @api.post(
        "/topics/{topic_id}/schedule",
        description="The topic becomes a session of its community (the leader, a core member or "
        "an admin), which invites the topic's voters. Takes `Idempotency-Key`.",
        **decided,
    )
    async def schedule(
        topic_id: Id, body: ScheduleTopic, actor: ActorDep, once: OnceDep, wait: Wait = False
    ) -> TopicScheduled:
        session_id = body.session_id or ids.new_session_id()
        details = body.model_dump(exclude={"session_id"}, exclude_none=True)

        async def scheduled() -> TopicScheduled:
            event = await commands.schedule(topic_id, session_id, details, actor)
            accepted = await answer(event, wait)
            return TopicScheduled(**accepted.model_dump(), topic_id=topic_id, session_id=session_id)

        return await once(TopicScheduled, scheduled)

    @api.post("/topics/{topic_id}/decline", **decided)
    async def decline(
        topic_id: Id, body: DeclineTopic, actor: ActorDep, wait: Wait = False
    ) -> Accepted:
        return await answer(await commands.decline(topic_id, body.reason, actor), wait)

    @api.post(
        "/topics/{topic_id}/merge",
        description="Moves the topic's votes to `into_topic_id` (an open topic of the same "
        "community), but for members who voted there already; moved votes count even beyond "
        "a member's budget.",
        **decided,
    )
    async def merge(
        topic_id: Id, body: MergeTopic, actor: ActorDep, wait: Wait = False
    ) -> Accepted:
        return await answer(await commands.merge(topic_id, body.into_topic_id, actor), wait)

    @api.post(
        "/topics/{topic_id}/reopen",
        description="A declined topic, or a scheduled one whose session was cancelled, is open "
        "again; its votes count again, even beyond a member's budget.",
        **decided,
    )
    async def reopen(topic_id: Id, actor: ActorDep, wait: Wait = False) -> Accepted:
        return await answer(await commands.reopen(topic_id, actor), wait)

    return api
