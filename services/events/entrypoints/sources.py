"""`/sources`: operators register, list and revoke the systems that send events to the gateway.

The source registry is the events service's own state; this API (admin scope only) is the one way
to change it, e.g. through `copctl sources`. A new system's API key is answered once, on
registration or rotation: only its hash is stored. Rotating answers a new key while the old one
keeps working for an overlap window, so the system can switch without a refused request.
Revoking withdraws every key and keeps the record (listed as revoked) so the name cannot be
registered again by someone else. Bodies are read strictly: a number must be a JSON number (not
`true`, not `"1"`), a list a JSON array; anything else answers 422 naming the field.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from services.events.adapters.sources import Source, SourceRegistry
from shared.auth import Caller
from shared.events import cdevents
from shared.events.bounds import MAX_SOURCE_TYPES
from shared.events.catalog import CATALOG
from shared.http import Problem

_PROBLEM = "urn:cop:problem:sources:"


def _in_catalog(event_type: str) -> str:
    """A catalog type, or a CDEvents family (a versioned CDEvents type stands for its family:
    the system may send every 0.x version of it)."""
    if event_type in CATALOG:
        return event_type
    family = cdevents.family_of(event_type)
    if family is None:
        raise PydanticCustomError(
            "unknown_event_type",
            "unknown event type {event_type} (see `copctl types`)",
            {"event_type": event_type},
        )
    return family


EventType = Annotated[
    str,
    AfterValidator(_in_catalog),
    WithJsonSchema({"type": "string", "enum": sorted([*CATALOG, *cdevents.FAMILIES])}),
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
MAX_OVERLAP_S = 7 * 24 * 3600
DEFAULT_OVERLAP_S = 24 * 3600


class RegisterSource(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: SourceName
    types: Annotated[
        list[EventType],
        Field(
            min_length=1,
            max_length=MAX_SOURCE_TYPES,
            description="the catalog's event types the system may send, and CDEvents families "
            "(`dev.cdevents.service.deployed`: any 0.x version)",
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


class RotateKey(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    overlap_s: int | None = Field(
        None,
        ge=0,
        le=MAX_OVERLAP_S,
        description="seconds the current key keeps working; 0 stops it at once; "
        f"default {DEFAULT_OVERLAP_S}",
    )


class RotatedKey(BaseModel):
    name: str
    api_key: str = Field(description="the new key; shown only this once")
    previous_key_valid_until: datetime


class SourceSystem(BaseModel):
    """A registered system as the registry keeps it (never its key)."""

    name: str
    types: list[str]
    rate_limit_per_minute: int
    active: bool
    created_at: datetime | None = None
    rotated_at: datetime | None = None
    previous_key_valid_until: datetime | None = None


def _system(source: Source) -> SourceSystem:
    return SourceSystem(
        name=source.name,
        types=sorted(source.types),
        rate_limit_per_minute=source.rate_limit_per_minute,
        active=source.active,
        created_at=source.created_at,
        rotated_at=source.rotated_at,
        previous_key_valid_until=source.previous_key_valid_until,
    )


def router(
    registry: SourceRegistry,
    auth: Callable[..., Awaitable[Caller]],
    default_rate_limit_per_minute: int,
    *,
    default_overlap_s: int = DEFAULT_OVERLAP_S,
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

    @api.get("", response_model_exclude_none=True)
    async def list_sources() -> list[SourceSystem]:
        """Every registered system, active or revoked, by name; when its key was rotated, until
        when the previous key still works."""
        return [_system(source) for source in await registry.all()]

    @api.post(
        "/{name}/rotate",
        responses={
            404: {"description": "no source of that name"},
            409: {"description": "the source is revoked"},
        },
    )
    async def rotate_key(name: SourceName, body: RotateKey | None = None) -> RotatedKey:
        """A new API key, answered once; the current key keeps working for the overlap."""
        overlap_s = default_overlap_s if body is None or body.overlap_s is None else body.overlap_s
        try:
            api_key, until = await registry.rotate(name, overlap_s)
        except KeyError:
            raise _no_source(name) from None
        except PermissionError as e:
            raise Problem(
                409, "Key not rotated", str(e), type_=_PROBLEM + "revoked", extra={"name": name}
            ) from None
        return RotatedKey(name=name, api_key=api_key, previous_key_valid_until=until)

    @api.post(
        "/{name}/revoke",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses={404: {"description": "no source of that name"}},
    )
    async def revoke_source(name: str) -> None:
        """Withdraw the system's key: its later requests answer 401 (revoking twice is fine)."""
        if not await registry.revoke(name):
            raise _no_source(name)

    return api


def _no_source(name: str) -> Problem:
    return Problem(
        404, "Not found", f"no source {name}", type_=_PROBLEM + "not-found", extra={"name": name}
    )
