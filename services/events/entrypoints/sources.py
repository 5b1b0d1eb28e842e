"""`/sources`: operators register, list and revoke the systems that send events to the gateway.

The source registry is the events service's own state; this API (admin scope only) is the one way
to change it, e.g. through `copctl sources`. A new system's API key is answered once, on
registration: only its hash is stored. Revoking keeps the record (listed as revoked) so the name
cannot be registered again by someone else.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from services.events.adapters.sources import SourceRegistry
from shared.auth import Caller
from shared.events.catalog import CATALOG
from shared.http import Problem

_PROBLEM = "urn:cop:problem:sources:"


def _in_catalog(event_type: str) -> str:
    if event_type not in CATALOG:
        raise PydanticCustomError(
            "unknown_event_type",
            "unknown event type {event_type} (see `copctl types`)",
            {"event_type": event_type},
        )
    return event_type


EventType = Annotated[
    str,
    AfterValidator(_in_catalog),
    WithJsonSchema({"type": "string", "enum": sorted(CATALOG)}),
]
SourceName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$",
        description="the system's name: its events' CloudEvents `source`, or a path under it",
        examples=["calendar"],
    ),
]
RateLimit = Annotated[int, Field(ge=1, le=1_000_000, description="events per minute")]


class RegisterSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SourceName
    types: Annotated[
        list[EventType],
        Field(
            min_length=1,
            max_length=100,
            description="the catalog's event types the system may send",
        ),
    ]
    rate_limit_per_minute: RateLimit | None = Field(
        None, description="events per minute; default: the service's setting"
    )


class RegisteredSource(BaseModel):
    name: str
    types: list[str]
    rate_limit_per_minute: int
    api_key: str = Field(
        description="`Authorization: Bearer <api_key>` on /ingest; shown only this once"
    )


class SourceSystem(BaseModel):
    """A registered system as the registry keeps it (never its key)."""

    name: str
    types: list[str]
    rate_limit_per_minute: int
    active: bool
    created_at: datetime | None = None


def _system(doc: dict[str, Any]) -> SourceSystem:
    return SourceSystem(
        name=doc["_id"],
        types=list(doc["types"]),
        rate_limit_per_minute=int(doc["rate_limit_per_minute"]),
        active=bool(doc.get("active", True)),
        created_at=doc.get("created_at"),
    )


def router(
    registry: SourceRegistry,
    auth: Callable[..., Awaitable[Caller]],
    default_rate_limit_per_minute: int,
) -> APIRouter:
    """Every route needs a member token with the admin scope (`copctl token ops --scope admin`)."""

    async def admin(caller: Annotated[Caller, Depends(auth)]) -> Caller:
        caller.require_admin()
        return caller

    api = APIRouter(
        prefix="/sources",
        tags=["source systems"],
        dependencies=[Depends(admin)],
        responses={
            401: {"description": "no valid bearer token"},
            403: {"description": "the token has no admin scope"},
        },
    )

    @api.post(
        "",
        status_code=status.HTTP_201_CREATED,
        responses={
            409: {"description": "a source of that name is registered (or was, and is revoked)"},
            422: {"description": "a field is wrong, e.g. an event type not in the catalog"},
        },
    )
    async def register_source(body: RegisterSource) -> RegisteredSource:
        """Register a system and answer its API key, once: only the key's hash is stored."""
        types = sorted(set(body.types))
        limit = body.rate_limit_per_minute or default_rate_limit_per_minute
        try:
            api_key = await registry.add(body.name, types, limit)
        except ValueError as e:
            raise Problem(
                409,
                "Source already registered",
                str(e),
                type_=_PROBLEM + "already-registered",
                extra={"name": body.name},
            ) from None
        return RegisteredSource(
            name=body.name, types=types, rate_limit_per_minute=limit, api_key=api_key
        )

    @api.get("")
    async def list_sources() -> list[SourceSystem]:
        """Every registered system, active or revoked, by name."""
        return [_system(doc) for doc in await registry.all()]

    @api.post(
        "/{name}/revoke",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses={404: {"description": "no source of that name"}},
    )
    async def revoke_source(name: str) -> None:
        """Withdraw the system's key: its later requests answer 401 (revoking twice is fine)."""
        if not await registry.revoke(name):
            raise Problem(
                404,
                "Not found",
                f"no source {name}",
                type_=_PROBLEM + "not-found",
                extra={"name": name},
            )

    return api
