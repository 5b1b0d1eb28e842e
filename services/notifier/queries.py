"""The notifier's reads for its HTTP API: a member's preferences and contact profile, a
community's channels (without their URLs or secrets), the delivery log. Typed answers, so
`/openapi.json` documents them too."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from services.notifier.adapters.deliveries import DeliveryLog
from services.notifier.adapters.directory import Directory
from services.notifier.domain.preferences import Preferences
from shared.events.catalog import MemberProfileUpdated


class Attempt(BaseModel):
    attempt: int
    at: datetime
    outcome: str
    error: str | None = None


class Delivery(BaseModel):
    """One notification to one recipient (a member or a channel) on one channel kind."""

    model_config = ConfigDict(extra="ignore")

    delivery_id: str = Field(description="(cause event, recipient, channel)")
    kind: str | None = None
    member_id: str | None = None
    channel: str | None = None
    channel_kind: str
    cause_event_id: str
    cause_type: str | None = None
    community_id: str | None = None
    state: str = Field(
        description="queued, held, sending, retry_wait, awaiting_address, delivered, failed, "
        "cancelled or unknown"
    )
    due_at: datetime
    attempt: int
    attempts: list[Attempt] = []
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


class ChannelView(BaseModel):
    id: str
    kind: str
    host: str
    channel: str | None = Field(None, description="the channel its webhook posts to, if named")
    secret: str | None = Field(None, description="shown once, when it was generated")


class NotifierQueries:
    def __init__(self, directory: Directory, deliveries: DeliveryLog) -> None:
        self._directory = directory
        self._deliveries = deliveries

    async def preferences(self, member_id: str) -> Preferences:
        """The member's preferences (the defaults until they set any)."""
        return (await self._directory.prefs([member_id])).get(member_id, Preferences())

    async def channels(self, community_id: str) -> list[ChannelView]:
        return [
            ChannelView(
                id=c["id"],
                kind=c["kind"],
                host=HttpUrl(c["url"]).host or "",
                channel=c.get("channel"),
            )
            for c in await self._directory.community_channels(community_id)
        ]

    async def deliveries(
        self, *, member_id: str | None, cause_event_id: str | None, limit: int
    ) -> Deliveries:
        docs = await self._deliveries.listed(
            member_id=member_id, cause_event_id=cause_event_id, limit=limit
        )
        items = [Delivery.model_validate({"delivery_id": d.pop("_id"), **d}) for d in docs]
        return Deliveries(items=items, limit=limit)

    async def profile(self, member_id: str) -> ContactProfile | None:
        found = (await self._directory.people([member_id])).get(member_id)
        if found is None:
            return None
        found["member_id"] = found.pop("_id")
        return ContactProfile.model_validate(found)
