"""Recognition's HTTP API: kudos, profiles, leaderboards, community health."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from services.recognition.commands.kudos import GiveKudos, RecognitionCommands
from services.recognition.domain.kudos import PolicyViolation
from services.recognition.domain.periods import InvalidPeriod, Period, month_key, resolve
from services.recognition.queries.community import RecognitionQueries
from shared.auth import Caller
from shared.community_health import GoalResult, HealthMetrics
from shared.events.catalog import Id, Instant, KudosGiven, KudosGivenFields, RecipientVerdict
from shared.events.envelope import utc_now
from shared.http import NotInBody, Problem
from shared.idempotency import Once
from shared.waiting import wait_until

PERIOD_HELP = "week, month, quarter, all, or a key: YYYY-MM, YYYY-Qn, YYYY-Www"


class KudosRequest(KudosGivenFields):
    """The kudos; its id is made by the service, the giver defaults to the token's member."""

    kudos_id: NotInBody = None
    from_id: Id | None = Field(None, description="the giver; defaults to the token's member")


class Accepted(BaseModel):
    event_id: str
    kudos_id: str
    applied: bool = Field(description="true when the judgement already shows (wait=true)")


class KudosRecord(KudosGiven):
    """A kudos as recognition recorded it, and once judged, the verdict for each recipient."""

    event_id: str | None = None
    given_at: datetime
    status: str = Field(description="`judged`, or `pending` until the judge has decided")
    period: str | None = Field(None, description="the allowance period it counts against")
    recipients: list[RecipientVerdict]
    counted_for: list[str]


class Allowance(BaseModel):
    allowance: int = Field(description="kudos recipients a member may count per period")
    period: str = Field(description="`month` or `week`")
    period_key: str
    used: int = Field(description="judged, or reserved by requests still being judged")
    left: int
    renews_at: datetime
    value_tags: list[str]


class Standing(BaseModel):
    give: int
    take: int
    style: str = Field(description="newcomer, giver, matcher or taker")
    kudos_received: int
    kudos_given: int


class CommunityStanding(Standing):
    community_id: str


class Badge(BaseModel):
    badge: str
    community_id: str
    reason: str
    awarded_at: datetime | None


class Scope(BaseModel):
    community_id: str | None
    period: str


class Profile(Standing):
    member_id: str
    scope: Scope
    badges: list[Badge]
    communities: list[CommunityStanding]


class MemberKudos(BaseModel):
    member_id: str
    received: int
    given: int


class Rank(BaseModel):
    rank: int
    member_id: str
    score: int = Field(description="give + 2 x counted kudos received")


class Leaderboard(BaseModel):
    community_id: str
    period: str
    entries: list[Rank]


class Window(BaseModel):
    period: str
    start: datetime
    end: datetime
    metrics: HealthMetrics
    goals: list[GoalResult] = Field(
        default=[], description="the goals of the community's charter, met or not in the period"
    )


class Health(Window):
    community_id: str
    previous: Window


class Trend(BaseModel):
    community_id: str
    from_: str = Field(alias="from")
    to: str
    months: list[Window]


class Alert(BaseModel):
    alert: str
    period: str
    details: dict[str, Any]
    raised_at: datetime | None


class Alerts(BaseModel):
    community_id: str
    alerts: list[Alert]


class FeedItem(BaseModel):
    kudos_id: str
    from_id: str
    counted_for: list[str]
    value_tag: str
    message: str
    given_at: datetime


class Feed(BaseModel):
    items: list[FeedItem]
    next_before: datetime | None = Field(description="pass as `before` for the next page")


def _invalid(field: str, title: str, detail: str) -> Problem:
    """A 422 naming the query parameter, as a request validation error does."""
    errors = [{"field": f"query.{field}", "message": detail}]
    return Problem(422, title, detail, extra={"field": field, "errors": errors})


def _period(value: str, *, allowed: tuple[str, ...] | None = None, field: str = "period") -> Period:
    try:
        period = resolve(value, utc_now())
    except InvalidPeriod as e:
        raise _invalid(field, "Invalid period", str(e)) from e
    if allowed is not None and period.kind not in allowed:
        raise _invalid(field, "Invalid period", f"use one of: {', '.join(allowed)}")
    return period


def router(
    commands: RecognitionCommands,
    queries: RecognitionQueries,
    auth: Callable[..., Awaitable[Caller]],
    idempotent: Callable[..., Awaitable[Once]],
    wait_timeout_s: float = 10.0,
) -> APIRouter:
    api = APIRouter()
    CallerDep = Annotated[Caller, Depends(auth)]
    OnceDep = Annotated[Once, Depends(idempotent)]
    PeriodQuery = Annotated[str, Query(description=PERIOD_HELP, max_length=16)]

    @api.post(
        "/kudos",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["kudos"],
        responses={
            401: {"description": "no valid bearer token"},
            403: {"description": "kudos in someone else's name"},
            409: {"description": "refused by the kudos policy"},
            429: {"description": "the giver's allowance for the period is used up"},
        },
    )
    async def give_kudos(
        body: KudosRequest,
        caller: CallerDep,
        once: OnceDep,
        wait: Annotated[bool, Query(description="return once the judgement shows")] = False,
    ) -> Accepted:
        return await once(Accepted, lambda: give(body, caller, wait))

    async def give(body: KudosRequest, caller: Caller, wait: bool) -> Accepted:
        giver = body.from_id or caller.member_id
        caller.require_self(giver, "give kudos")
        try:
            event = await commands.give_kudos(GiveKudos(**{**body.model_dump(), "from_id": giver}))
        except PolicyViolation as e:
            code = 429 if e.code == "allowance_exhausted" else 409
            raise Problem(
                code,
                "Kudos refused by policy",
                str(e),
                type_=f"urn:cop:problem:kudos:{e.code}",
                extra={"code": e.code},
            ) from e
        kudos_id = event.data["kudos_id"]

        async def judged() -> bool:
            record = await queries.kudos(kudos_id)
            return record is not None and record["status"] == "judged"

        applied = wait and await wait_until(judged, timeout_s=wait_timeout_s)
        return Accepted(event_id=event.id, kudos_id=kudos_id, applied=applied)

    @api.get("/kudos/{kudos_id}", tags=["kudos"], responses={404: {"description": "no such kudos"}})
    async def get_kudos(kudos_id: Id) -> KudosRecord:
        doc = await queries.kudos(kudos_id)
        if doc is None:
            raise Problem(404, "Kudos not found", f"no kudos {kudos_id}")
        return KudosRecord.model_validate(doc)

    @api.get("/communities/{community_id}/kudos", tags=["kudos"])
    async def kudos_feed(
        community_id: Id,
        before: Annotated[Instant | None, Query(description="only kudos given before this")] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> Feed:
        """The community's recent counted kudos, newest first."""
        return Feed.model_validate(await queries.feed(community_id, before or utc_now(), limit))

    @api.get("/members/{member_id}/kudos", tags=["kudos"])
    async def member_kudos(member_id: Id) -> MemberKudos:
        """Counted kudos received and given, in every community and all time."""
        profile = await queries.profile(member_id, None, resolve("all", utc_now()))
        return MemberKudos(
            member_id=member_id, received=profile["kudos_received"], given=profile["kudos_given"]
        )

    @api.get("/members/{member_id}/allowance", tags=["kudos"])
    async def allowance(member_id: Id, caller: CallerDep) -> Allowance:
        """The member's kudos allowance this period: used, left, when it renews, and the value
        tags a kudos may carry (the member themself or an admin)."""
        caller.require_self(member_id, "read the allowance")
        left = await commands.allowance_left(member_id)
        return Allowance.model_validate(left, from_attributes=True)

    @api.get("/members/{member_id}/profile", tags=["profiles"])
    async def profile(
        member_id: Id,
        community: Annotated[Id | None, Query(description="one community only")] = None,
        period: PeriodQuery = "all",
    ) -> Profile:
        """Give, take, style, counted kudos and badges: in all, and per community."""
        return Profile.model_validate(await queries.profile(member_id, community, _period(period)))

    @api.get("/communities/{community_id}/leaderboard", tags=["leaderboards"])
    async def leaderboard(
        community_id: Id,
        period: PeriodQuery = "month",
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> Leaderboard:
        """Members by score (give + 2 x counted kudos received) in the community and period."""
        resolved = _period(period)
        entries = await queries.leaderboard(community_id, resolved, limit)
        return Leaderboard.model_validate(
            {"community_id": community_id, "period": resolved.key, "entries": entries}
        )

    @api.get("/communities/{community_id}/health", tags=["health"])
    async def community_health(
        community_id: Id,
        period: Annotated[
            str | None, Query(description="YYYY-MM or YYYY-Qn", max_length=16)
        ] = None,
    ) -> Health:
        """The community's health numbers over a month or quarter, with the previous one's."""
        resolved = _period(period or month_key(utc_now()), allowed=("month", "quarter"))
        return Health.model_validate(await queries.health(community_id, resolved))

    @api.get("/communities/{community_id}/health/trend", tags=["health"])
    async def health_trend(
        community_id: Id,
        from_: Annotated[str, Query(alias="from", description="YYYY-MM", max_length=7)],
        to: Annotated[str, Query(description="YYYY-MM", max_length=7)],
    ) -> Trend:
        """The health numbers month by month, for a dashboard to draw."""
        first = _period(from_, allowed=("month",), field="from")
        last = _period(to, allowed=("month",), field="to")
        if last.start < first.start or (last.start.year - first.start.year) * 12 > 120:
            raise _invalid("to", "Invalid range", "`to` must follow `from`, at most 10 years apart")
        return Trend.model_validate(await queries.trend(community_id, first.key, last.key))

    @api.get("/communities/{community_id}/alerts", tags=["health"])
    async def community_alerts(community_id: Id) -> Alerts:
        """Health alerts raised for the community: the monthly ones, oldest month first, then
        those of its health-check rounds (a card turned red or declining twice), as the rounds
        closed."""
        return Alerts(
            community_id=community_id,
            alerts=[Alert.model_validate(a) for a in await queries.alerts(community_id)],
        )

    return api
