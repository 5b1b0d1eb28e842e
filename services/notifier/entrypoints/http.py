"""The notifier's HTTP API: the delivery log and the contact profiles it knows."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from services.notifier.handlers import NotifierHandlers
from shared.auth import Caller
from shared.events.catalog import Id, MemberProfileUpdated
from shared.http import Problem


class Delivery(BaseModel):
    """One notification to one recipient (a member or a channel) on one channel kind."""

    model_config = ConfigDict(extra="ignore")

    delivery_id: str = Field(description="(cause event, recipient, channel)")
    member_id: str | None = None
    channel: str | None = None
    channel_kind: str
    cause_event_id: str
    cause_type: str | None = None
    community_id: str | None = None
    status: str = Field(description="sending, delivered, awaiting_address or failed")
    attempt: int
    error: str | None = None
    created_at: datetime
    updated_at: datetime


class Deliveries(BaseModel):
    items: list[Delivery]
    limit: int


class ContactProfile(MemberProfileUpdated):
    """What the notifier knows of a member, from `cop.member.profile_updated.v1`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    updated_at: datetime


def router(handlers: NotifierHandlers, auth: Callable[..., Awaitable[Caller]]) -> APIRouter:
    """Members see their own deliveries and contact profile; admins see everyone's."""
    api = APIRouter(tags=["deliveries"], responses={401: {"description": "no valid token"}})
    CallerDep = Annotated[Caller, Depends(auth)]

    @api.get("/deliveries")
    async def deliveries(
        caller: CallerDep,
        member_id: Id | None = None,
        cause_event_id: Id | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Deliveries:
        if not caller.is_admin:
            caller.require_self(member_id or "", "read the deliveries")
        docs = await handlers.store.deliveries(
            member_id=member_id, cause_event_id=cause_event_id, limit=limit
        )
        items = [Delivery.model_validate({"delivery_id": d.pop("_id"), **d}) for d in docs]
        return Deliveries(items=items, limit=limit)

    @api.get("/profiles/{member_id}", responses={404: {"description": "no such profile"}})
    async def profile(member_id: Id, caller: CallerDep) -> ContactProfile:
        caller.require_self(member_id, "read the profile")
        found = (await handlers.store.profiles([member_id])).get(member_id)
        if found is None:
            raise Problem(404, "Profile not found", f"no profile for member {member_id}")
        found["member_id"] = found.pop("_id")
        return ContactProfile.model_validate(found)

    return api
