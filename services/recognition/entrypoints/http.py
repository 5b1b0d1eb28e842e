"""Recognition's HTTP API."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from services.recognition.domain.kudos import PolicyViolation
from services.recognition.handlers import GiveKudos, RecognitionHandlers
from shared.auth import Caller
from shared.events.catalog import Id, KudosGiven
from shared.http import NotInBody, Problem
from shared.waiting import wait_until


class KudosRequest(KudosGiven):
    """The kudos; its id is made by the service, the giver defaults to the token's member."""

    kudos_id: NotInBody = None  # type: ignore[assignment]
    from_id: Id | None = Field(None, description="the giver; defaults to the token's member")  # type: ignore[assignment]


class Accepted(BaseModel):
    event_id: str
    kudos_id: str
    applied: bool = Field(description="true when the projection already shows it (wait=true)")


class KudosRecord(KudosGiven):
    """A kudos as recognition recorded it: for whom it counts, and why not for the others."""

    event_id: str
    given_at: datetime
    counted_for: list[str]
    not_counted: dict[str, str] = Field(description="recipient -> reason it is not counted")


class MemberKudos(BaseModel):
    member_id: str
    received: int
    given: int
    last_received_at: datetime | None


def router(
    handlers: RecognitionHandlers,
    auth: Callable[..., Awaitable[Caller]],
    wait_timeout_s: float = 10.0,
) -> APIRouter:
    api = APIRouter(tags=["kudos"])
    CallerDep = Annotated[Caller, Depends(auth)]

    @api.post(
        "/kudos",
        status_code=status.HTTP_202_ACCEPTED,
        responses={
            401: {"description": "no valid bearer token"},
            403: {"description": "kudos in someone else's name"},
            409: {"description": "refused by the kudos policy"},
            429: {"description": "the giver's weekly allowance is used up"},
        },
    )
    async def give_kudos(
        body: KudosRequest,
        caller: CallerDep,
        wait: Annotated[bool, Query(description="return once the projection shows it")] = False,
    ) -> Accepted:
        giver = body.from_id or caller.member_id
        caller.require_self(giver, "give kudos")
        try:
            event = await handlers.give_kudos(GiveKudos(**{**body.model_dump(), "from_id": giver}))
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
        applied = wait and await wait_until(
            lambda: handlers.projection.kudos(kudos_id), timeout_s=wait_timeout_s
        )
        return Accepted(event_id=event.id, kudos_id=kudos_id, applied=applied)

    @api.get("/kudos/{kudos_id}", responses={404: {"description": "no such kudos"}})
    async def get_kudos(kudos_id: Id) -> KudosRecord:
        doc = await handlers.projection.kudos(kudos_id)
        if doc is None:
            raise Problem(404, "Kudos not found", f"no kudos {kudos_id}")
        doc["kudos_id"] = doc.pop("_id")
        return KudosRecord.model_validate(doc)

    @api.get("/members/{member_id}/kudos")
    async def member_kudos(member_id: Id) -> MemberKudos:
        return MemberKudos(**await handlers.projection.member_counts(member_id))

    return api
