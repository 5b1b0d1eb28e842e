"""Calendar invitations (RFC 5545 with the iTIP methods of RFC 5546) built with `icalendar`.

One UID per session, so a reschedule (REQUEST with a higher SEQUENCE) updates the event already
in the member's calendar and a CANCEL removes it.
"""

from datetime import datetime, timedelta
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//CoP Platform//Notifier//EN"


def session_uid(session_id: str) -> str:
    return f"session-{session_id}@cop-platform"


def invite(
    session: dict[str, Any],
    *,
    method: str,
    sequence: int,
    organizer: str,
    attendee: str,
    stamp: datetime,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    starts = session["starts_at"]
    starts = datetime.fromisoformat(starts) if isinstance(starts, str) else starts
    event.add("uid", session_uid(session["session_id"]))
    event.add("sequence", sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", starts)
    event.add("dtend", starts + timedelta(minutes=int(session.get("duration_minutes") or 60)))
    event.add("summary", session["title"])
    if session.get("location"):
        event.add("location", session["location"])
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event["organizer"] = vCalAddress(f"mailto:{organizer}")
    event["organizer"].params["cn"] = vText("CoP Platform")
    guest = vCalAddress(f"mailto:{attendee}")
    guest.params["role"] = vText("REQ-PARTICIPANT")
    guest.params["rsvp"] = vText("FALSE")
    event.add("attendee", guest, encode=False)
    calendar.add_component(event)
    return bytes(calendar.to_ical())
