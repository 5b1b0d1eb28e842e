"""The topic backlog's page: the pickers it offers and the events service's bodies made from its
forms. Pure: the backlog is read and acted on elsewhere."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events.catalog import SessionFormat

STATUSES = ("open", "scheduled", "done", "declined", "merged")
ANY_STATUS = "any"  # the picker's "every status": the list is asked without one
SORTS = ("wanted", "new", "ready")
SORT_LABELS = {
    "wanted": "most wanted",
    "new": "newest",
    "ready": "with a volunteer speaker",
}
FORMATS = tuple(f.value for f in SessionFormat)
DEFAULT_DURATION_MINUTES = 60

PROPOSE_FIELDS = ("title", "description")
SCHEDULE_FIELDS = ("starts_at", "format", "duration_minutes")
DECLINE_FIELDS = ("reason",)


def picked_status(status: str) -> str:
    """The status picked, `open` unless it is one of the backlog's (or every status)."""
    return status if status in (*STATUSES, ANY_STATUS) else "open"


def picked_sort(sort: str) -> str:
    return sort if sort in SORTS else "wanted"


def propose_body(fields: Mapping[str, str], member_id: str) -> dict[str, Any]:
    """A topic from the form: the viewer volunteers to present it when they ticked the box."""
    return {
        "title": fields.get("title", "").strip(),
        "description": fields.get("description", "").strip(),
        "speaker_ids": [member_id] if fields.get("volunteer") == "on" else [],
    }


def schedule_body(fields: Mapping[str, str], member_id: str) -> dict[str, Any]:
    """The session a topic becomes, facilitated by the viewer; its title and speakers are the
    topic's. The time is read as UTC, as the form says; what is not a number or a time is
    passed on for the service to name."""
    duration = fields.get("duration_minutes", "").strip()
    return {
        "starts_at": utc_instant(fields.get("starts_at", "")),
        "format": fields.get("format", ""),
        "duration_minutes": int(duration) if duration.isdigit() else duration,
        "facilitator_id": member_id,
    }


def utc_instant(local: str) -> str:
    """A `datetime-local` value (read as UTC) as an ISO instant; anything else as it came."""
    try:
        return datetime.fromisoformat(local.strip()).replace(tzinfo=UTC).isoformat()
    except ValueError:
        return local


def default_start(now: datetime) -> str:
    """A week from now at 12:00 UTC, as a `datetime-local` value: where the schedule form
    starts."""
    day = (now.astimezone(UTC) + timedelta(days=7)).date()
    return f"{day.isoformat()}T12:00"
