"""The notifier's HTTP API: the delivery log and the contact profiles it knows."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from services.notifier.handlers import NotifierHandlers
from shared.auth import Caller
from shared.events.catalog import Id
from shared.http import Problem


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
    ) -> list[dict[str, Any]]:
        if not caller.is_admin:
            caller.require_self(member_id or "", "read the deliveries")
        docs = await handlers.store.deliveries(
            member_id=member_id, cause_event_id=cause_event_id, limit=limit
        )
        return [{"delivery_id": d.pop("_id"), **d} for d in docs]

    @api.get("/profiles/{member_id}")
    async def profile(member_id: Id, caller: CallerDep) -> dict[str, Any]:
        caller.require_self(member_id, "read the profile")
        found = (await handlers.store.profiles([member_id])).get(member_id)
        if found is None:
            raise Problem(404, "Profile not found", f"no profile for member {member_id}")
        found["member_id"] = found.pop("_id")
        return found

    return api
