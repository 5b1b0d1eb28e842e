"""A session as a calendar event (RFC 5545, with the iTIP methods of RFC 5546), built with
`icalendar`: the notifier's invitations (REQUEST, CANCEL) and the web pages' `.ics` download
(PUBLISH) write the same event.

One UID per session, so a reschedule (REQUEST with a higher SEQUENCE) updates the event already
in the member's calendar, a CANCEL removes it, and a downloaded copy is the same event.
"""

from datetime import datetime, timedelta
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//CoP Platform//Sessions//EN"


def session_uid(session_id: str) -> str:
    return f"session-{session_id}@cop-platform"


def session_ics(
    session: dict[str, Any],
    *,
    method: str,
    sequence: int,
    stamp: datetime,
    organizer: str | None = None,
    attendee: str | None = None,
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
    if organizer:
        event["organizer"] = vCalAddress(f"mailto:{organizer}")
        event["organizer"].params["cn"] = vText("CoP Platform")
    if attendee:
        guest = vCalAddress(f"mailto:{attendee}")
        guest.params["role"] = vText("REQ-PARTICIPANT")
        guest.params["rsvp"] = vText("FALSE")
        event.add("attendee", guest, encode=False)
    calendar.add_component(event)
    return bytes(calendar.to_ical())
