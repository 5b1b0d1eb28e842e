"""Recognition's HTTP API for self-assessment health checks: rounds, answers, results."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from services.recognition.commands.health_checks import HealthCheckCommands, OpenRound
from services.recognition.domain.health_checks import (
    MAX_EXTRA_CARDS,
    MIN_RESPONDENTS,
    Answer,
    Colour,
    Trend,
)
from services.recognition.queries.health_checks import HealthCheckQueries
from shared.auth import Caller
from shared.events.bounds import MAX_HEALTH_CHECK_CARDS
from shared.events.catalog import (
    CardComment,
    CardId,
    HealthCheckCard,
    HealthCheckTemplate,
    Id,
    Instant,
)
from shared.http import Body
from shared.idempotency import Once
from shared.refusals import NotFound
from shared.waiting import wait_until


class RoundRequest(Body):
    template: HealthCheckTemplate
    closes_at: Instant = Field(description="when the round closes by itself; in the future")
    min_respondents: int = Field(
        MIN_RESPONDENTS,
        ge=MIN_RESPONDENTS,
        le=100_000,
        description="results show only when at least this many members answered",
    )
    extra_cards: list[HealthCheckCard] = Field(
        [], max_length=MAX_EXTRA_CARDS, description="cards added to the deck, e.g. from goals"
    )


class CardAnswer(Body):
    colour: Colour
    trend: Trend | None = Field(None, description="the way the member feels it is going")
    comment: CardComment | None = None


class Answers(Body):
    cards: dict[CardId, CardAnswer] = Field(min_length=1, max_length=MAX_HEALTH_CHECK_CARDS)


class RoundOpened(BaseModel):
    event_id: str
    round_id: str
    applied: bool = Field(description="true when the round already shows (wait=true)")


class RoundClosed(BaseModel):
    event_id: str
    round_id: str
    applied: bool = Field(description="true when the results already show (wait=true)")


class AnswersSaved(BaseModel):
    round_id: str
    cards: list[str] = Field(description="the cards answered; they replace earlier answers")


class MyAnswers(BaseModel):
    round_id: str
    cards: dict[str, CardAnswer]


class RoundSummary(BaseModel):
    round_id: str
    community_id: str
    template: HealthCheckTemplate
    status: Literal["open", "closed"]
    opened_at: datetime | None
    closes_at: datetime
    closed_at: datetime | None
    min_respondents: int
    respondents: int


class Round(RoundSummary):
    cards: list[HealthCheckCard]


class ListedRound(RoundSummary):
    has_results: bool
    answered_by_me: bool


class Rounds(BaseModel):
    community_id: str
    rounds: list[ListedRound] = Field(description="newest first")


class FeltTrend(BaseModel):
    up: int
    same: int
    down: int


class CardResult(BaseModel):
    card_id: str
    title: str
    n: int
    green: int
    amber: int
    red: int
    score: float | None = Field(description="(2·green + amber) / (2·n), 4 decimals")
    colour: Colour | None = Field(description="the most answered colour, a tie to the worse")
    mixed: float | None = Field(description="1 - (the most answered colour's count) / n")
    trend: Trend | None = Field(description="the score against the previous round with results")
    felt_trend: FeltTrend
    comments: list[str]
    alerts: list[str]


class RoundResults(RoundSummary):
    members: int | None
    response_rate: float | None
    previous_round_id: str | None
    comments_left_out: int
    results: list[CardResult] | None
    reason: Literal["round_open", "too_few_respondents"] | None


def _answers(body: Answers) -> dict[str, Answer]:
    return {
        card: Answer(a.colour, a.trend, (a.comment or "").strip() or None)
        for card, a in body.cards.items()
    }


def health_check_router(
    commands: HealthCheckCommands,
    queries: HealthCheckQueries,
    auth: Callable[..., Awaitable[Caller]],
    idempotent: Callable[..., Awaitable[Once]],
    wait_timeout_s: float = 10.0,
) -> APIRouter:
    api = APIRouter(tags=["health checks"])
    CallerDep = Annotated[Caller, Depends(auth)]
    OnceDep = Annotated[Once, Depends(idempotent)]
    Wait = Annotated[bool, Query(description="return once the projection shows it")]

    async def shows(round_id: str, status_: str) -> bool:
        found = await queries.round(round_id)
        return found is not None and found["status"] == status_

    @api.post(
        "/communities/{community_id}/health-checks",
        status_code=status.HTTP_202_ACCEPTED,
        responses={
            403: {"description": "not the community's leader or an admin"},
            404: {"description": "no such community"},
            422: {"description": "unknown template, a closing time in the past, …"},
        },
    )
    async def open_round(
        community_id: Id, body: RoundRequest, caller: CallerDep, once: OnceDep, wait: Wait = False
    ) -> RoundOpened:
        """Open a round on a deck (and the leader's own cards); members answer until it closes."""

        async def run() -> RoundOpened:
            cmd = OpenRound(
                community_id,
                body.template,
                body.closes_at,
                body.min_respondents,
                body.extra_cards,
            )
            event = await commands.open_round(cmd, caller.actor)
            round_id = event.data["round_id"]
            applied = wait and await wait_until(
                lambda: shows(round_id, "open"), timeout_s=wait_timeout_s
            )
            return RoundOpened(event_id=event.id, round_id=round_id, applied=applied)

        return await once(RoundOpened, run)

    @api.get("/communities/{community_id}/health-checks")
    async def list_rounds(community_id: Id, caller: CallerDep) -> Rounds:
        """The community's rounds, newest first, with how many answered and whether you did."""
        listed = await queries.rounds(community_id, caller.member_id)
        return Rounds(
            community_id=community_id, rounds=[ListedRound.model_validate(r) for r in listed]
        )

    @api.get("/health-checks/{round_id}", responses={404: {"description": "no such round"}})
    async def get_round(round_id: Id, caller: CallerDep) -> Round:
        """A round and its cards, with what green and red mean for each."""
        found = await queries.round(round_id)
        if found is None:
            raise NotFound("round_not_found", f"no health-check round {round_id}")
        return Round.model_validate(found)

    @api.put(
        "/health-checks/{round_id}/answers",
        responses={
            403: {"description": "not a member of the round's community"},
            404: {"description": "no such round"},
            409: {"description": "the round is closed"},
            422: {"description": "a card the round does not have, a colour not among the three"},
        },
    )
    async def answer(round_id: Id, body: Answers, caller: CallerDep) -> AnswersSaved:
        """Your answers, replacing any you gave before; changeable until the round closes.
        Kept apart from your id, and never published one by one."""
        answers = _answers(body)
        await commands.answer(round_id, caller.member_id, answers)
        return AnswersSaved(round_id=round_id, cards=sorted(answers))

    @api.get(
        "/health-checks/{round_id}/answers/me",
        responses={
            404: {"description": "no such round, or no answers of yours"},
            409: {"description": "the round is closed: answers are no longer anyone's"},
        },
    )
    async def my_answers(round_id: Id, caller: CallerDep) -> MyAnswers:
        """Your own answers, while the round is open."""
        found = await commands.answers_of(round_id, caller.member_id)
        cards = {
            card: CardAnswer(colour=a.colour, trend=a.trend, comment=a.comment)
            for card, a in found.items()
        }
        return MyAnswers(round_id=round_id, cards=cards)

    @api.post(
        "/health-checks/{round_id}/close",
        status_code=status.HTTP_202_ACCEPTED,
        responses={
            403: {"description": "not the community's leader or an admin"},
            404: {"description": "no such round"},
            409: {"description": "the round is closed already"},
        },
    )
    async def close_round(round_id: Id, caller: CallerDep, wait: Wait = False) -> RoundClosed:
        """Close the round now (it also closes by itself at `closes_at`)."""
        event = await commands.close(round_id, caller.actor)
        applied = wait and await wait_until(
            lambda: shows(round_id, "closed"), timeout_s=wait_timeout_s
        )
        return RoundClosed(event_id=event.id, round_id=round_id, applied=applied)

    @api.get("/health-checks/{round_id}/results", responses={404: {"description": "no such round"}})
    async def results(round_id: Id, caller: CallerDep) -> RoundResults:
        """Per card: counts, score, colour, mixed and trend; only once the round is closed and
        only if at least `min_respondents` answered (else `results` is null, with the reason)."""
        found = await queries.results(round_id)
        if found is None:
            raise NotFound("round_not_found", f"no health-check round {round_id}")
        return RoundResults.model_validate(found)

    return api
