"""What the events API's routers depend on: the member who acts (from the bearer token), who
reads a query open to anyone (a token is optional), the `Idempotency-Key` of a create, and a
command's `202` answer, which on `?wait=true` returns once the projection shows the event."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol

from fastapi import Depends, Header, Query, params
from pydantic import BaseModel, Field

from services.events.domain.actor import Actor
from shared.auth import Caller
from shared.events.envelope import CloudEvent
from shared.idempotency import Once

Wait = Annotated[bool, Query(description="return once the projection shows the event")]

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no valid bearer token"},
    403: {"description": "the caller may not do this (problem+json with a `code`)"},
}


class Accepted(BaseModel):
    event_id: str
    type: str
    subject: str | None
    applied: bool = Field(description="true when the projection already shows it (wait=true)")


class ShowsApplied(Protocol):
    """The commands' view of the projection: whether it shows an event yet."""

    async def wait_applied(self, event_id: str) -> bool: ...


class RouteDependencies:
    """One router's dependencies, for `Annotated[...]` parameters: `actor` (a member's token
    required), `viewer` (None without a token), `once` (the `Idempotency-Key`)."""

    def __init__(
        self,
        auth: Callable[..., Awaitable[Caller]],
        idempotent: Callable[..., Awaitable[Once]],
        commands: ShowsApplied,
    ) -> None:
        async def acting(caller: Annotated[Caller, Depends(auth)]) -> Actor:
            return caller.actor

        async def viewing(authorization: Annotated[str | None, Header()] = None) -> Actor | None:
            if not (authorization or "").strip():
                return None
            return await acting(await auth(authorization=authorization))

        self.actor: params.Depends = Depends(acting)
        self.viewer: params.Depends = Depends(viewing)
        self.once: params.Depends = Depends(idempotent)
        self._commands = commands

    async def answer(self, event: CloudEvent, wait: bool) -> Accepted:
        """The command's event, once the projection shows it when `wait`."""
        applied = await self._commands.wait_applied(event.id) if wait else False
        return Accepted(event_id=event.id, type=event.type, subject=event.subject, applied=applied)
