"""The events service's HTTP API."""

from typing import Annotated, Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.events.handlers import EventsHandlers
from shared.events.catalog import Id, MemberProfileUpdated
from shared.http import Problem


class ProfileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr
    team: Annotated[str, Field(max_length=200)] = ""
    chat_handle: Annotated[str, Field(max_length=100)] = ""
    timezone: Annotated[str, Field(max_length=64)] = "UTC"


class Accepted(BaseModel):
    event_id: str


def router(handlers: EventsHandlers) -> APIRouter:
    api = APIRouter(tags=["members"])

    @api.put("/members/{member_id}/profile", status_code=status.HTTP_202_ACCEPTED)
    async def update_profile(member_id: Id, body: ProfileRequest) -> Accepted:
        event = await handlers.update_profile(
            MemberProfileUpdated(member_id=member_id, **body.model_dump())
        )
        return Accepted(event_id=event.id)

    @api.get("/members/{member_id}")
    async def get_member(member_id: Id) -> dict[str, Any]:
        found = await handlers.members.get(member_id)
        if found is None:
            raise Problem(404, "Member not found", f"no member {member_id}")
        found["member_id"] = found.pop("_id")
        return found

    return api
