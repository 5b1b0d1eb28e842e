"""A member's notification preferences, and the rules of time that follow from them.

Defaults for a member who never set anything: watching the communities they joined, e-mail on,
no quiet hours, a daily digest. During quiet hours (in the member's own timezone) nothing but
cancellations goes out: the rest waits until they end.
"""

from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from shared.events.bounds import MAX_FOLLOWED_TAGS, MAX_PREFERENCE_COMMUNITIES
from shared.events.catalog import Id, Tag

DIGEST_HOUR = time(8, 0)  # digests go out at 08:00 in the member's timezone
UNSUBSCRIBE = "unsubscribe"
"""The `purpose` claim of an unsubscribe link's token (one click mutes the community)."""


class Level(StrEnum):
    WATCHING = "watching"  # every announcement as it happens
    DIGEST = "digest"  # announcements gathered into one e-mail per period
    MUTED = "muted"  # no announcements


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: time = Field(description="local time, e.g. 22:00")
    end: time = Field(description="local time, e.g. 07:00; before `start` means the next day")


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: bool = True
    communities: dict[Id, Level] = Field(
        default_factory=dict, description="per community; unset: watching if joined, else muted"
    )
    tags: Annotated[list[Tag], Field(max_length=MAX_FOLLOWED_TAGS)] = Field(
        default_factory=list, description="artifacts with one of these tags, from any community"
    )
    digest: Literal["daily", "weekly"] = "daily"
    quiet_hours: QuietHours | None = None


class PreferencesUpdate(Preferences):
    """Preferences as a member sets them, with at most `MAX_PREFERENCE_COMMUNITIES` communities.
    (The bound is on what comes in: preferences stored before it still read as they were.)"""

    communities: Annotated[dict[Id, Level], Field(max_length=MAX_PREFERENCE_COMMUNITIES)] = Field(
        default_factory=dict, description="per community; unset: watching if joined, else muted"
    )


def level(prefs: Preferences, community_id: str, joined: bool) -> Level:
    return prefs.communities.get(community_id, Level.WATCHING if joined else Level.MUTED)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(prefs: Preferences, timezone: str | None, now: datetime) -> datetime | None:
    """When the member's quiet hours end, if `now` falls in them; else None."""
    quiet = prefs.quiet_hours
    if quiet is None or quiet.start == quiet.end:
        return None
    local = now.astimezone(zone(timezone))
    today = local.date()
    for day in (today - timedelta(days=1), today):
        start = datetime.combine(day, quiet.start, local.tzinfo)
        end_day = day if quiet.end > quiet.start else day + timedelta(days=1)
        end = datetime.combine(end_day, quiet.end, local.tzinfo)
        if start <= local < end:
            return end.astimezone(UTC)
    return None


def digest_period(prefs: Preferences, timezone: str | None, now: datetime) -> tuple[str, datetime]:
    """The digest an announcement at `now` joins: its key and when it goes out (the next 08:00
    local, or the next Monday 08:00 local for a weekly digest)."""
    local = now.astimezone(zone(timezone))
    send = datetime.combine(local.date(), DIGEST_HOUR, local.tzinfo)
    if send <= local:
        send += timedelta(days=1)
    if prefs.digest == "weekly":
        send += timedelta(days=(7 - send.weekday()) % 7)
    return f"{prefs.digest}-{send.date().isoformat()}", send.astimezone(UTC)
