"""The notifier's HTTP API: preferences, community chat channels, one-click unsubscribe, and
the delivery log."""

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import jwt
from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationInfo, field_validator

from services.notifier.adapters.deliveries import DeliveryLog
from services.notifier.adapters.directory import Directory
from services.notifier.adapters.webhook_targets import TargetPolicy, TargetRefused
from services.notifier.domain.chat_channels import OVERRIDABLE, ChannelOverride
from services.notifier.domain.preferences import (
    UNSUBSCRIBE,
    Level,
    Preferences,
    PreferencesUpdate,
)
from services.notifier.queries import ChannelView, ContactProfile, Deliveries, NotifierQueries
from shared.auth import Caller
from shared.events.bounds import MAX_CHANNELS
from shared.events.catalog import Id
from shared.http import Problem


class Channel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")]
    kind: Literal["slack", "teams", "mattermost", "webhook"]
    url: HttpUrl
    secret: Annotated[str, Field(min_length=32, max_length=256)] | None = Field(
        None, description="webhook only: the HMAC-SHA256 key; generated when left out"
    )
    channel: ChannelOverride | None = None

    @field_validator("channel")
    @classmethod
    def _overridable(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("kind") not in OVERRIDABLE:
            raise ValueError("only slack and mattermost webhooks take a channel")
        return value


class ChannelsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: Annotated[list[Channel], Field(max_length=MAX_CHANNELS)]


def router(
    *,
    directory: Directory,
    deliveries: DeliveryLog,
    queries: NotifierQueries,
    auth: Callable[..., Awaitable[Caller]],
    webhook_targets: TargetPolicy,
    signing_secret: str,
) -> APIRouter:
    api = APIRouter(responses={401: {"description": "no valid token"}})
    CallerDep = Annotated[Caller, Depends(auth)]

    @api.get("/members/{member_id}/preferences", tags=["preferences"])
    async def get_preferences(member_id: Id, caller: CallerDep) -> Preferences:
        """Your notification preferences (the defaults until you set any)."""
        caller.require_self(member_id, "read the preferences")
        return await queries.preferences(member_id)

    @api.put("/members/{member_id}/preferences", tags=["preferences"])
    async def put_preferences(
        member_id: Id, body: PreferencesUpdate, caller: CallerDep
    ) -> Preferences:
        """Channels, a level per community, followed tags, digest frequency, quiet hours."""
        caller.require_self(member_id, "change the preferences")
        await directory.save_prefs(member_id, body)
        return body

    @api.put("/communities/{community_id}/channels", tags=["channels"])
    async def put_channels(
        community_id: Id, body: ChannelsRequest, caller: CallerDep
    ) -> list[ChannelView]:
        """The community's chat channels (leader or admin). Hosts must be on the allowlist and
        resolve to public addresses only (or to networks the settings allow)."""
        leader = await directory.leader(community_id)
        if not caller.is_admin and caller.member_id != leader:
            raise Problem(
                403,
                "Not allowed",
                "only the community's leader or an admin",
                extra={"code": "not_leader_or_admin"},
            )
        refusals: list[tuple[int, TargetRefused]] = []
        for index, channel in enumerate(body.channels):
            try:
                await webhook_targets.check_url(str(channel.url))
            except TargetRefused as refused:
                refusals.append((index, refused))
        if refusals:
            index, first = refusals[0]
            raise Problem(
                422,
                "Webhook target not allowed",
                f"{body.channels[index].id}: {first.reason}",
                type_=f"urn:cop:problem:notifier:{first.code}",
                extra={
                    "code": first.code,
                    "field": f"channels.{index}.url",
                    "errors": [
                        {"field": f"channels.{i}.url", "message": r.reason} for i, r in refusals
                    ],
                },
            )
        stored, shown = [], []
        for channel in body.channels:
            url = str(channel.url)
            generated = None
            if channel.kind == "webhook" and channel.secret is None:
                generated = secrets.token_urlsafe(32)
            stored.append(
                {
                    "id": channel.id,
                    "kind": channel.kind,
                    "url": url,
                    "secret": channel.secret or generated,
                    "channel": channel.channel,
                }
            )
            shown.append(
                ChannelView(
                    id=channel.id,
                    kind=channel.kind,
                    host=channel.url.host or "",
                    channel=channel.channel,
                    secret=generated,
                )
            )
        await directory.save_channels(community_id, stored)
        return shown

    @api.get("/communities/{community_id}/channels", tags=["channels"])
    async def get_channels(community_id: Id, caller: CallerDep) -> list[ChannelView]:
        """The channels, without their URLs or secrets (chat webhook URLs carry a secret)."""
        return await queries.channels(community_id)

    def _unsubscribe_claims(token: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(token, signing_secret, algorithms=["HS256"])
        except jwt.PyJWTError as e:
            raise Problem(
                400, "Invalid unsubscribe link", "the link is not valid", extra={"field": "token"}
            ) from e
        if claims.get("purpose") != UNSUBSCRIBE:
            raise Problem(
                400, "Invalid unsubscribe link", "not an unsubscribe link", extra={"field": "token"}
            )
        return claims

    @api.post("/unsubscribe", tags=["preferences"], status_code=200)
    async def unsubscribe(token: Annotated[str, Query(max_length=2000)]) -> dict[str, str]:
        """RFC 8058 one-click unsubscribe: mutes the community for the member of the link."""
        claims = _unsubscribe_claims(token)
        member, community = str(claims["sub"]), str(claims["community"])
        prefs = (await directory.prefs([member])).get(member, Preferences())
        prefs.communities[community] = Level.MUTED
        await directory.save_prefs(member, prefs)
        return {"member_id": member, "community_id": community, "level": Level.MUTED.value}

    @api.get("/unsubscribe", tags=["preferences"], response_class=HTMLResponse)
    async def unsubscribe_page(token: Annotated[str, Query(max_length=2000)]) -> HTMLResponse:
        """The page a person opens from the link; mail scanners that follow links change nothing."""
        claims = _unsubscribe_claims(token)
        community = str(claims["community"]).replace("<", "").replace(">", "").replace('"', "")
        return HTMLResponse(
            f'<!doctype html><form method="post"><p>Stop e-mails from {community}?</p>'
            '<button type="submit">Unsubscribe</button></form>'
        )

    @api.get("/deliveries", tags=["deliveries"])
    async def list_deliveries(
        caller: CallerDep,
        member_id: Id | None = None,
        cause_event_id: Annotated[str | None, Query(max_length=300)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Deliveries:
        """The delivery log, newest first, with every attempt: yours, or anyone's for admins."""
        if not caller.is_admin:
            caller.require_self(member_id or "", "read the deliveries")
        return await queries.deliveries(
            member_id=member_id, cause_event_id=cause_event_id, limit=limit
        )

    @api.post("/deliveries/{delivery_id}/retry", tags=["deliveries"])
    async def retry(
        delivery_id: Annotated[str, Field(max_length=300)], caller: CallerDep
    ) -> dict[str, bool]:
        """Send a failed (or unknown) delivery again (admins)."""
        caller.require_admin()
        return {"requeued": await deliveries.requeue(delivery_id, datetime.now(UTC))}

    @api.get("/profiles/{member_id}", tags=["deliveries"], responses={404: {"description": "none"}})
    async def profile(member_id: Id, caller: CallerDep) -> ContactProfile:
        caller.require_self(member_id, "read the profile")
        found = await queries.profile(member_id)
        if found is None:
            raise Problem(404, "Profile not found", f"no profile for member {member_id}")
        return found

    return api
