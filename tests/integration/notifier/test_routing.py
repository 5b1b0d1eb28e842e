"""Who hears of what, and how: the notifier's routing against real Kafka, MongoDB-protocol server,
Redis, the SMTP sink and the chat webhook sink. Every message is checked by parsing it: the
.eml with `email`, the invitation with `icalendar`, the chat posts as each platform's JSON.

Time travel: `app.state.dispatcher.run_once(now=...)` sends what is due at that moment, so
reminders, digests and quiet hours are tested without waiting for the clock.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from icalendar import Calendar, Event

from services.notifier.adapters.directory import Directory
from services.notifier.bootstrap import bootstrap
from services.notifier.settings import NotifierSettings
from shared.documents import Doc
from shared.events.catalog import (
    ArtifactPublished,
    BadgeAwarded,
    Charter,
    CommunityCreated,
    HealthAlertRaised,
    KudosJudged,
    MemberJoined,
    MemberProfileUpdated,
    SessionCancelled,
    SessionHeld,
    SessionRescheduled,
    SessionScheduled,
)
from shared.events.envelope import CloudEvent, new_event
from shared.mongo import make_client
from tests.infra import Infrastructure
from tests.integration.apps import bearer, drop_database, serving, settings_for
from tests.integration.kafka_io import produce_events
from tests.integration.polling import eventually
from tests.sinks import Sinks

pytestmark = pytest.mark.integration

T = TypeVar("T")
SOURCE = "test/routing"


# --- the notifier under test ------------------------------------------------------------------


@dataclass
class Notifier:
    app: FastAPI
    client: httpx.AsyncClient
    settings: NotifierSettings
    directory: Directory  # read-only view of the notifier's own database, to wait on
    infra: Infrastructure

    async def send(self, *events: CloudEvent) -> None:
        await produce_events(
            self.infra.kafka_bootstrap_servers, self.settings.kafka_topic_prefix, list(events)
        )

    async def deliveries(
        self, *, cause_event_id: str | None = None, member_id: str | None = None
    ) -> list[Doc]:
        params: dict[str, str | int] = {"limit": 500}
        if cause_event_id:
            params["cause_event_id"] = cause_event_id
        if member_id:
            params["member_id"] = member_id
        response = await self.client.get("/deliveries", params=params)
        assert response.status_code == 200, response.text
        items: list[Doc] = response.json()["items"]
        if member_id:
            items = [d for d in items if d["member_id"] == member_id]
        return items

    async def run_at(self, now: datetime) -> int:
        """One dispatcher round as if the clock said `now`."""
        return int(await self.app.state.dispatcher.run_once(now=now))

    async def knows(
        self,
        *,
        profiles: Iterable[str] = (),
        community: str | None = None,
        members: Iterable[str] = (),
        leader: str | None = None,
    ) -> None:
        """Wait until the notifier's projection has the profiles, memberships and leader
        (they travel cop.communities, while sessions and the rest travel other topics)."""
        wanted_profiles, wanted_members = set(profiles), set(members)

        async def known() -> bool:
            if wanted_profiles and set(await self.directory.people(wanted_profiles)) != (
                wanted_profiles
            ):
                return False
            if community and not wanted_members <= await self.directory.members(community):
                return False
            return not (community and leader and await self.directory.leader(community) != leader)

        await eventually(known, what="the profiles, memberships and leader in the notifier")

    async def set_preferences(self, member_id: str, prefs: Doc) -> None:
        response = await self.client.put(
            f"/members/{member_id}/preferences", json=prefs, headers=bearer(member_id)
        )
        assert response.status_code == 200, response.text


def routing_settings(
    infra: Infrastructure, sinks: Sinks, namespace: str, **overrides: Any
) -> NotifierSettings:
    values: Doc = {
        "smtp_port": sinks.smtp_port,
        "chat_webhook_url": sinks.chat_url,
        # The rate limit has tests of its own; here it would only slow the chat posts down.
        "chat_rate": "50/second",
        "delivery_retry_base_s": 0.1,
        "delivery_retry_max_s": 0.5,
        **overrides,
    }
    settings: NotifierSettings = settings_for(NotifierSettings, infra, namespace, **values)
    return settings


@contextlib.asynccontextmanager
async def running(infra: Infrastructure, settings: NotifierSettings) -> AsyncIterator[Notifier]:
    """The notifier app (consumers, dispatcher loop, HTTP) in this process; its database is
    kept when it stops, so another one can start on the same settings."""
    app = bootstrap(settings)
    mongo = make_client(infra.mongodb_uri, app_name="test-notifier-routing")
    try:
        async with serving(app, "notifier") as client:
            directory = Directory(mongo[settings.mongodb_database])
            yield Notifier(app, client, settings, directory, infra)
    finally:
        await mongo.close()


@pytest.fixture
async def settings(
    infra: Infrastructure, sinks: Sinks, unique: str
) -> AsyncIterator[NotifierSettings]:
    found = routing_settings(infra, sinks, f"ntr{unique}")
    yield found
    await drop_database(infra, found.mongodb_database)


@pytest.fixture
async def notifier(infra: Infrastructure, settings: NotifierSettings) -> AsyncIterator[Notifier]:
    async with running(infra, settings) as started:
        yield started


# --- events -----------------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def address(member_id: str) -> str:
    return f"{member_id}@example.com"


def profile(member_id: str, name: str, timezone: str = "UTC") -> CloudEvent:
    return new_event(
        MemberProfileUpdated(
            member_id=member_id, name=name, email=address(member_id), timezone=timezone
        ),
        source=SOURCE,
    )


def joined(community_id: str, member_id: str) -> CloudEvent:
    return new_event(MemberJoined(community_id=community_id, member_id=member_id), source=SOURCE)


def founded(community_id: str, leader_id: str) -> CloudEvent:
    return new_event(
        CommunityCreated(
            community_id=community_id,
            name=f"Guild {community_id}",
            domain="testing",
            charter=Charter(purpose="Share how we test"),
            leader_id=leader_id,
        ),
        source=SOURCE,
    )


def scheduled(
    session_id: str, community_id: str, starts_at: datetime, *, facilitator: str, title: str
) -> CloudEvent:
    return new_event(
        SessionScheduled(
            session_id=session_id,
            community_id=community_id,
            title=title,
            format="brown_bag",
            starts_at=starts_at,
            duration_minutes=45,
            location="Room 4",
            facilitator_id=facilitator,
        ),
        source=SOURCE,
    )


def rescheduled(session_id: str, community_id: str, starts_at: datetime) -> CloudEvent:
    return new_event(
        SessionRescheduled(session_id=session_id, community_id=community_id, starts_at=starts_at),
        source=SOURCE,
    )


def cancelled(session_id: str, community_id: str, reason: str = "speaker ill") -> CloudEvent:
    return new_event(
        SessionCancelled(session_id=session_id, community_id=community_id, reason=reason),
        source=SOURCE,
    )


def kudos_judged(
    community_id: str,
    giver: str,
    *verdicts: tuple[str, str],
    message: str = "Thanks for pairing on the flaky test",
) -> CloudEvent:
    """A kudos as recognition's judge decided it: (recipient, verdict) for each recipient."""
    return new_event(
        KudosJudged(
            kudos_id=new_id("k"),
            community_id=community_id,
            from_id=giver,
            message=message,
            value_tag="knowledge_sharing",
            period="2026-11",
            recipients=[{"member_id": m, "verdict": verdict} for m, verdict in verdicts],
        ),
        source=SOURCE,
    )


def minute(at: datetime) -> datetime:
    """An instant an invitation can carry exactly (iCalendar has no sub-second precision)."""
    return at.replace(second=0, microsecond=0)


# --- reading what was sent --------------------------------------------------------------------


def mails(sinks: Sinks, member_id: str, subject_prefix: str = "") -> list[EmailMessage]:
    return [
        m
        for m in sinks.mails_to(address(member_id))
        if str(m["Subject"]).startswith(subject_prefix)
    ]


async def one_mail(sinks: Sinks, member_id: str, subject_prefix: str) -> EmailMessage:
    async def arrived() -> EmailMessage | None:
        found = mails(sinks, member_id, subject_prefix)
        assert len(found) <= 1, f"{len(found)} mails {subject_prefix!r} to {member_id}"
        return found[0] if found else None

    return await eventually(arrived, what=f"an e-mail {subject_prefix!r} to {member_id}")


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None, "no text/plain part"
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def html_of(mail: EmailMessage) -> str:
    part = mail.get_body(("html",))
    assert part is not None, "no text/html part"
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def invitation(mail: EmailMessage, method: str) -> Event:
    """The one event of the text/calendar part, whose Content-Type and calendar both say
    `method`."""
    parts = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, f"{len(parts)} text/calendar parts"
    part = parts[0]
    assert part.get_param("method") == method
    raw = part.get_payload(decode=True)
    assert isinstance(raw, bytes)
    calendar = Calendar.from_ical(raw)
    assert calendar["METHOD"] == method
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Event)
    return event


def assert_multipart_with_unsubscribe(mail: EmailMessage) -> None:
    assert mail.is_multipart()
    assert text_of(mail).strip()
    assert "<html" in html_of(mail)
    unsubscribe = str(mail["List-Unsubscribe"])
    assert unsubscribe.startswith("<")
    assert unsubscribe.endswith(">")
    assert "/unsubscribe?token=" in unsubscribe
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def posts_of(sinks: Sinks, event: CloudEvent, path: str = "/hooks/cop") -> list[Doc]:
    """Posts to the default (generic, signed) webhook about `event`."""
    return [
        p
        for p in sinks.posts()
        if p["path"] == path and p["body"].get("event", {}).get("id") == event.id
    ]


async def one_post(sinks: Sinks, event: CloudEvent) -> Doc:
    async def posted() -> Doc | None:
        found = posts_of(sinks, event)
        assert len(found) <= 1, f"{len(found)} posts of {event.type}"
        return found[0] if found else None

    return await eventually(posted, what=f"one chat post of {event.type}")


def parse_time(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def until(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    return await eventually(probe, what=what)


# --- 1. invitations ---------------------------------------------------------------------------


async def test_session_invite_is_a_request_then_a_higher_sequence_then_a_cancel_with_one_uid(
    notifier: Notifier, sinks: Sinks
) -> None:
    community, watcher, host = new_id("c"), new_id("m"), new_id("m")
    session, title = new_id("s"), "Property-based testing"
    await notifier.send(profile(watcher, "Wanda Watcher"), joined(community, watcher))
    await notifier.knows(profiles=[watcher], community=community, members=[watcher])
    starts = minute(datetime.now(UTC)) + timedelta(days=3)
    moved = starts + timedelta(days=1, hours=2)

    async def invited(cause: CloudEvent, subject: str, method: str) -> Event:
        """Send `cause`; the watcher gets one e-mail `subject` with an invitation."""
        await notifier.send(cause)
        mail = await one_mail(sinks, watcher, subject)
        assert_multipart_with_unsubscribe(mail)
        assert f"/members/{watcher}/preferences" in text_of(mail)
        return invitation(mail, method)

    first = scheduled(session, community, starts, facilitator=host, title=title)
    event = await invited(first, f"New session: {title}", "REQUEST")
    uid = str(event["UID"])
    assert session in uid
    assert event.decoded("SEQUENCE") == 0
    assert event.decoded("DTSTART") == starts
    assert event.decoded("DTEND") == starts + timedelta(minutes=45)
    assert str(event["SUMMARY"]) == title
    assert address(watcher) in str(event["ATTENDEE"])

    second = rescheduled(session, community, moved)
    event = await invited(second, f"Moved: {title}", "REQUEST")
    assert str(event["UID"]) == uid
    assert event.decoded("SEQUENCE") == 1
    assert event.decoded("DTSTART") == moved

    third = cancelled(session, community)
    event = await invited(third, f"Cancelled: {title}", "CANCEL")
    assert str(event["UID"]) == uid
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.decoded("SEQUENCE") > 1

    for cause in (first, second, third):
        post = await one_post(sinks, cause)
        assert post["body"]["event"]["type"] == cause.type
        assert post["body"]["title"] == title
        assert post["body"]["facts"]["community"] == community


# --- 2. preference levels and tags ------------------------------------------------------------


def zone_with_next_digest_between(low: timedelta, high: timedelta) -> tuple[str, datetime]:
    """A timezone whose next 08:00 is between `low` and `high` from now, and that instant."""
    now = datetime.now(UTC)
    for name in (
        "Asia/Kolkata",
        "America/New_York",
        "Asia/Tokyo",
        "Europe/Berlin",
        "America/Los_Angeles",
        "Pacific/Auckland",
        "UTC",
    ):
        local = now.astimezone(ZoneInfo(name))
        send = datetime.combine(local.date(), time(8, 0), local.tzinfo)
        if send <= local:
            send += timedelta(days=1)
        if low <= send - now <= high:
            return name, send.astimezone(UTC)
    raise AssertionError("no timezone with its next 08:00 in range")


async def test_watching_gets_it_now_digest_gets_it_at_the_next_8am_local_and_muted_never(
    notifier: Notifier, sinks: Sinks
) -> None:
    community, host = new_id("c"), new_id("m")
    watcher, digester, muted = new_id("m"), new_id("m"), new_id("m")
    zone, next_8am = zone_with_next_digest_between(timedelta(hours=1), timedelta(hours=20))
    await notifier.send(
        profile(watcher, "Wat"),
        profile(digester, "Dig", timezone=zone),
        profile(muted, "Mute"),
        *(joined(community, m) for m in (watcher, digester, muted)),
    )
    await notifier.set_preferences(digester, {"communities": {community: "digest"}})
    await notifier.set_preferences(muted, {"communities": {community: "muted"}})
    everyone = [watcher, digester, muted]
    await notifier.knows(profiles=everyone, community=community, members=everyone)

    title = "Mutation testing clinic"
    starts = minute(datetime.now(UTC)) + timedelta(days=4)
    event = scheduled(new_id("s"), community, starts, facilitator=host, title=title)
    await notifier.send(event)
    await one_mail(sinks, watcher, f"New session: {title}")

    planned = {d["member_id"] for d in await notifier.deliveries(cause_event_id=event.id)}
    assert watcher in planned
    assert digester not in planned
    assert muted not in planned
    assert mails(sinks, digester) == []
    assert mails(sinks, muted) == []

    (digest,) = [d for d in await notifier.deliveries(member_id=digester) if d["kind"] == "digest"]
    assert digest["state"] == "held"
    assert parse_time(digest["due_at"]) == next_8am

    await notifier.run_at(next_8am - timedelta(minutes=5))
    assert mails(sinks, digester) == [], "the digest went out before 08:00 local"

    async def digest_sent() -> EmailMessage | None:
        await notifier.run_at(next_8am + timedelta(minutes=1))
        found = mails(sinks, digester, f"Your daily digest of {community}")
        return found[0] if found else None

    mail = await until(digest_sent, "the digest e-mail after 08:00 local")
    assert_multipart_with_unsubscribe(mail)
    assert f"New session: {title}" in text_of(mail)
    assert f"New session: {title}" in html_of(mail)
    assert len(mails(sinks, digester)) == 1
    assert mails(sinks, muted) == []


async def test_a_tag_follower_hears_of_an_artifact_of_a_community_they_never_joined(
    notifier: Notifier, sinks: Sinks
) -> None:
    community, follower, other = new_id("c"), new_id("m"), new_id("m")
    await notifier.send(profile(follower, "Fola"), profile(other, "Otto"))
    await notifier.set_preferences(follower, {"tags": ["observability"]})
    await notifier.set_preferences(other, {"tags": ["frontend"]})
    await notifier.knows(profiles=[follower, other])

    event = new_event(
        ArtifactPublished(
            artifact_id=new_id("a"),
            community_id=community,
            kind="pattern",
            title="Tracing across Kafka",
            summary="Propagate the trace context in record headers.",
            body_markdown="# Tracing across Kafka\n\nPut `traceparent` in the headers.",
            author_ids=[new_id("m")],
            tags=["observability", "kafka"],
        ),
        source=SOURCE,
    )
    await notifier.send(event)
    mail = await one_mail(sinks, follower, f"New in {community}: Tracing across Kafka")
    assert_multipart_with_unsubscribe(mail)
    assert "Propagate the trace context" in text_of(mail)
    planned = {d["member_id"] for d in await notifier.deliveries(cause_event_id=event.id)}
    assert other not in planned
    assert mails(sinks, other) == []


# --- 3. quiet hours ---------------------------------------------------------------------------

QUIET_ZONE = "Asia/Kolkata"  # +05:30, no daylight saving time


def quiet_hours_around_now() -> tuple[Doc, datetime]:
    """Quiet hours from an hour ago to an hour from now in QUIET_ZONE, and when they end."""
    local = datetime.now(UTC).astimezone(ZoneInfo(QUIET_ZONE))
    start, end = minute(local - timedelta(hours=1)), minute(local + timedelta(hours=1))
    hours = {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
    return hours, end.astimezone(UTC)


async def test_quiet_hours_hold_an_invitation_until_they_end_then_send_it(
    notifier: Notifier, sinks: Sinks
) -> None:
    community, sleeper, host = new_id("c"), new_id("m"), new_id("m")
    quiet, quiet_end = quiet_hours_around_now()
    await notifier.send(profile(sleeper, "Sleepy", timezone=QUIET_ZONE), joined(community, sleeper))
    await notifier.set_preferences(sleeper, {"quiet_hours": quiet})
    await notifier.knows(profiles=[sleeper], community=community, members=[sleeper])

    title = "Contract tests"
    starts = minute(datetime.now(UTC)) + timedelta(days=5)
    event = scheduled(new_id("s"), community, starts, facilitator=host, title=title)
    await notifier.send(event)

    async def held() -> Doc | None:
        found = await notifier.deliveries(cause_event_id=event.id, member_id=sleeper)
        return next((d for d in found if d["kind"] == "session_scheduled"), None)

    delivery = await until(held, "the invitation planned for the member in quiet hours")
    assert delivery["state"] == "held"
    assert parse_time(delivery["due_at"]) == quiet_end
    await notifier.run_at(datetime.now(UTC))
    assert mails(sinks, sleeper) == [], "sent during quiet hours"

    async def sent_after_quiet_hours() -> EmailMessage | None:
        await notifier.run_at(quiet_end + timedelta(minutes=1))
        found = mails(sinks, sleeper, f"New session: {title}")
        return found[0] if found else None

    try:
        await eventually(
            sent_after_quiet_hours, timeout_s=10, what="the held invitation after quiet hours"
        )
    finally:
        after = await held()
        assert after is not None
        assert after["state"] == "delivered", (
            f"run_once(now=after the quiet hours) left it {after['state']} "
            f"due {after['due_at']} (quiet hours end {quiet_end.isoformat()})"
        )
    assert len(mails(sinks, sleeper)) == 1


async def test_a_cancellation_goes_out_during_quiet_hours(notifier: Notifier, sinks: Sinks) -> None:
    community, sleeper, host = new_id("c"), new_id("m"), new_id("m")
    quiet, quiet_end = quiet_hours_around_now()
    await notifier.send(profile(sleeper, "Sleepy", timezone=QUIET_ZONE), joined(community, sleeper))
    await notifier.set_preferences(sleeper, {"quiet_hours": quiet})
    await notifier.knows(profiles=[sleeper], community=community, members=[sleeper])

    session, title = new_id("s"), "Chaos day"
    starts = minute(datetime.now(UTC)) + timedelta(days=5)
    invite = scheduled(session, community, starts, facilitator=host, title=title)
    cancel = cancelled(session, community, reason="venue closed")
    await notifier.send(invite, cancel)

    mail = await one_mail(sinks, sleeper, f"Cancelled: {title}")
    event = invitation(mail, "CANCEL")
    assert str(event["STATUS"]) == "CANCELLED"
    assert "venue closed" in text_of(mail)
    (held,) = [
        d
        for d in await notifier.deliveries(cause_event_id=invite.id, member_id=sleeper)
        if d["kind"] == "session_scheduled"
    ]
    assert held["state"] == "held"
    assert parse_time(held["due_at"]) == quiet_end
    assert mails(sinks, sleeper, "New session") == []


# --- 4. reminders -----------------------------------------------------------------------------


def reminders(deliveries: list[Doc], member_id: str) -> list[Doc]:
    return [d for d in deliveries if d["kind"] == "reminder" and d["member_id"] == member_id]


def reminder_of(deliveries: list[Doc], member_id: str, hours: int) -> Doc | None:
    return next(
        (d for d in reminders(deliveries, member_id) if f":reminder-{hours}h-" in d["delivery_id"]),
        None,
    )


async def test_a_reminder_goes_out_once_24_hours_before_to_watchers_and_the_facilitator(
    notifier: Notifier, sinks: Sinks
) -> None:
    community, watcher, host = new_id("c"), new_id("m"), new_id("m")
    await notifier.send(profile(watcher, "Wat"), profile(host, "Hosta"), joined(community, watcher))
    await notifier.knows(profiles=[watcher, host], community=community, members=[watcher])
    title = "Snapshot testing"
    starts = minute(datetime.now(UTC)) + timedelta(hours=25)
    due = starts - timedelta(hours=24)
    event = scheduled(new_id("s"), community, starts, facilitator=host, title=title)
    await notifier.send(event)
    await one_mail(sinks, watcher, f"New session: {title}")

    async def planned() -> list[Doc] | None:
        found = await notifier.deliveries(cause_event_id=event.id)
        ok = all(reminder_of(found, m, h) for m in (watcher, host) for h in (24, 1))
        return found if ok else None

    found = await until(planned, "24 h and 1 h reminders planned for the watcher and the host")
    for who in (watcher, host):
        early = reminder_of(found, who, 24)
        assert early is not None
        assert early["state"] == "held"
        assert parse_time(early["due_at"]) == due

    await notifier.run_at(due - timedelta(minutes=2))
    assert mails(sinks, watcher, "Reminder") == [], "a reminder went out before it was due"

    async def reminded() -> bool:
        await notifier.run_at(due + timedelta(minutes=1))
        return all(mails(sinks, who, f"Reminder: {title} in 24 hours") for who in (watcher, host))

    await until(reminded, "the 24 h reminder to the watcher and the host")
    await notifier.run_at(due + timedelta(minutes=1))
    await notifier.run_at(due + timedelta(minutes=3))
    after = await notifier.deliveries(cause_event_id=event.id)
    for who in (watcher, host):
        (mail,) = mails(sinks, who, "Reminder")
        assert_multipart_with_unsubscribe(mail)
        assert f"{title} starts in 24 hours" in text_of(mail)
        early, late = reminder_of(after, who, 24), reminder_of(after, who, 1)
        assert early is not None
        assert late is not None
        assert early["state"] == "delivered"
        assert [a["outcome"] for a in early["attempts"]] == ["delivered"]
        assert late["state"] == "held", "the 1 h reminder went out a day early"


async def plan_a_reminder_then_stop(
    infra: Infrastructure, settings: NotifierSettings, title: str
) -> tuple[CloudEvent, str, datetime]:
    """A notifier plans a watcher's 24 h reminder of a new session and stops before it is due;
    gives the session's event, the watcher and when the reminder is due."""
    community, watcher, host = new_id("c"), new_id("m"), new_id("m")
    starts = minute(datetime.now(UTC)) + timedelta(hours=25)
    event = scheduled(new_id("s"), community, starts, facilitator=host, title=title)
    async with running(infra, settings) as before:
        await before.send(profile(watcher, "Wat"), joined(community, watcher))
        await before.knows(profiles=[watcher], community=community, members=[watcher])
        await before.send(event)

        async def planned() -> Doc | None:
            return reminder_of(await before.deliveries(cause_event_id=event.id), watcher, 24)

        assert (await until(planned, "the 24 h reminder planned"))["state"] == "held"
    return event, watcher, starts - timedelta(hours=24)


async def test_a_reminder_due_while_the_notifier_was_stopped_is_sent_once_after_restart(
    infra: Infrastructure, settings: NotifierSettings, sinks: Sinks
) -> None:
    title = "Fuzzing the parser"
    event, watcher, due = await plan_a_reminder_then_stop(infra, settings, title)
    async with running(infra, settings) as after:

        async def reminded() -> bool:
            await after.run_at(due + timedelta(minutes=1))
            return bool(mails(sinks, watcher, f"Reminder: {title}"))

        await until(reminded, "the reminder sent by the restarted notifier")
        await after.run_at(due + timedelta(minutes=1))
        await after.run_at(due + timedelta(minutes=5))
        assert len(mails(sinks, watcher, "Reminder")) == 1
        early = reminder_of(await after.deliveries(cause_event_id=event.id), watcher, 24)
        assert early is not None
        assert early["state"] == "delivered"
        assert early["attempt"] == 1


async def test_a_reminder_missed_while_the_notifier_was_down_is_sent_as_soon_as_it_is_back(
    infra: Infrastructure, sinks: Sinks, unique: str
) -> None:
    # The background loop idles (the test drives the rounds), as a notifier that was not
    # running when the reminder came due: only the first round after the restart can send it.
    settings = routing_settings(infra, sinks, f"ntr{unique}", dispatch_interval_s=600.0)
    try:
        await reminder_missed_while_down(infra, settings, sinks)
    finally:
        await drop_database(infra, settings.mongodb_database)


async def reminder_missed_while_down(
    infra: Infrastructure, settings: NotifierSettings, sinks: Sinks
) -> None:
    title = "Benchmarks that lie"
    event, watcher, due = await plan_a_reminder_then_stop(infra, settings, title)
    # Back ten minutes after the reminder was due: the first round must find it and send it.
    back = due + timedelta(minutes=10)
    async with running(infra, settings) as after:
        await after.run_at(back)
        early = reminder_of(await after.deliveries(cause_event_id=event.id), watcher, 24)
        assert early is not None
        assert early["state"] == "delivered", (
            f"the first round after the restart, run_once(now={back.isoformat()}), left the "
            f"reminder due {early['due_at']} {early['state']}"
        )
        (mail,) = mails(sinks, watcher, f"Reminder: {title}")
        assert_multipart_with_unsubscribe(mail)
        await after.run_at(back + timedelta(minutes=1))
        assert len(mails(sinks, watcher, "Reminder")) == 1


async def test_a_reminder_of_a_cancelled_session_is_cancelled_not_sent(
    notifier: Notifier, sinks: Sinks
) -> None:
    community, watcher, host = new_id("c"), new_id("m"), new_id("m")
    await notifier.send(profile(watcher, "Wat"), joined(community, watcher))
    await notifier.knows(profiles=[watcher], community=community, members=[watcher])
    session, title = new_id("s"), "Load testing"
    starts = minute(datetime.now(UTC)) + timedelta(hours=25)
    due = starts - timedelta(hours=24)
    event = scheduled(session, community, starts, facilitator=host, title=title)
    await notifier.send(event, cancelled(session, community))
    await one_mail(sinks, watcher, f"Cancelled: {title}")

    async def reminder_cancelled() -> Doc | None:
        await notifier.run_at(due + timedelta(minutes=1))
        found = reminder_of(await notifier.deliveries(cause_event_id=event.id), watcher, 24)
        return found if found and found["state"] == "cancelled" else None

    await until(reminder_cancelled, "the reminder of the cancelled session cancelled")
    assert mails(sinks, watcher, "Reminder") == []


# --- 5. the rest of the table -----------------------------------------------------------------


async def test_session_held_thanks_each_attendee_with_minutes_and_feedback_links(
    notifier: Notifier, sinks: Sinks
) -> None:
    community, ann, ben, absent = new_id("c"), new_id("m"), new_id("m"), new_id("m")
    session = new_id("s")
    await notifier.send(
        profile(ann, "Ann"),
        profile(ben, "Ben"),
        profile(absent, "Abe"),
        *(joined(community, m) for m in (ann, ben, absent)),
    )
    await notifier.knows(profiles=[ann, ben, absent], community=community, members=[absent])
    event = new_event(
        SessionHeld(
            session_id=session,
            community_id=community,
            held_at=datetime.now(UTC),
            duration_minutes=50,
            format="workshop",
            title="Testing in production",
            facilitator_id=new_id("m"),
            attendee_ids=[ann, ben],
            recording_url="https://video.example.com/r/42",
        ),
        source=SOURCE,
    )
    await notifier.send(event)
    minutes = f"{notifier.settings.knowledge_url.rstrip('/')}/sessions/{session}/minutes"
    feedback = f"{notifier.settings.events_url.rstrip('/')}/sessions/{session}#feedback"
    for who in (ann, ben):
        mail = await one_mail(sinks, who, "Thanks for joining Testing in production")
        assert_multipart_with_unsubscribe(mail)
        for url in (minutes, feedback, "https://video.example.com/r/42"):
            assert url in text_of(mail)
            assert f'href="{url}"' in html_of(mail)
    planned = {d["member_id"] for d in await notifier.deliveries(cause_event_id=event.id)}
    assert planned == {ann, ben}
    assert mails(sinks, absent) == []


async def test_judged_kudos_reach_counted_recipients_not_self_or_duplicate_verdicts(
    notifier: Notifier, sinks: Sinks
) -> None:
    community, giver, alice = new_id("c"), new_id("m"), new_id("m")
    await notifier.send(profile(giver, "Gia"), profile(alice, "Alice"))
    await notifier.knows(profiles=[giver, alice])
    event = kudos_judged(
        community,
        giver,
        (alice, "counted"),
        (alice, "duplicate_recipient"),
        (giver, "self_kudos"),
        message="The flaky-test hunt was heroic",
    )
    await notifier.send(event)
    mail = await one_mail(sinks, alice, "Gia gave kudos for knowledge sharing")
    assert_multipart_with_unsubscribe(mail)
    assert "The flaky-test hunt was heroic" in text_of(mail)
    post = await one_post(sinks, event)
    assert post["body"]["title"] == "Kudos for Alice"
    planned = [d["member_id"] for d in await notifier.deliveries(cause_event_id=event.id)]
    assert sorted(planned, key=str) == sorted([alice, None], key=str)
    assert len(mails(sinks, alice)) == 1
    assert mails(sinks, giver) == []


async def test_a_badge_is_emailed_to_its_member_and_posted_to_chat(
    notifier: Notifier, sinks: Sinks
) -> None:
    community, earner = new_id("c"), new_id("m")
    await notifier.send(profile(earner, "Eve"))
    await notifier.knows(profiles=[earner])
    event = new_event(
        BadgeAwarded(
            member_id=earner, badge="first_pattern", community_id=community, reason="wrote one"
        ),
        source=SOURCE,
    )
    await notifier.send(event)
    mail = await one_mail(sinks, earner, "Eve earned the first pattern badge")
    assert_multipart_with_unsubscribe(mail)
    post = await one_post(sinks, event)
    assert post["body"]["title"] == "Badge: first pattern"


async def test_a_health_alert_goes_to_the_community_leader_only(
    notifier: Notifier, sinks: Sinks
) -> None:
    community, leader, member = new_id("c"), new_id("m"), new_id("m")
    await notifier.send(
        profile(leader, "Lea"),
        profile(member, "Max"),
        founded(community, leader),
        joined(community, leader),
        joined(community, member),
    )
    await notifier.knows(
        profiles=[leader, member], community=community, members=[leader, member], leader=leader
    )
    event = new_event(
        HealthAlertRaised(
            community_id=community,
            alert="low_attendance",
            period="2026-11",
            details={"attendance": 2},
        ),
        source=SOURCE,
    )
    await notifier.send(event)
    mail = await one_mail(sinks, leader, f"Health alert for {community}: low attendance")
    assert_multipart_with_unsubscribe(mail)
    health = f"{notifier.settings.recognition_url.rstrip('/')}/communities/{community}/health"
    assert health in text_of(mail)
    await one_post(sinks, event)
    planned = {d["member_id"] for d in await notifier.deliveries(cause_event_id=event.id)}
    assert planned == {leader, None}
    assert mails(sinks, member) == []


# --- 6. community channels --------------------------------------------------------------------


async def led_community(notifier: Notifier) -> tuple[str, str]:
    community, leader = new_id("c"), new_id("m")
    await notifier.send(founded(community, leader))
    await notifier.knows(community=community, leader=leader)
    return community, leader


async def test_community_channels_get_slack_block_kit_and_mattermost_payloads(
    notifier: Notifier, sinks: Sinks, unique: str
) -> None:
    community, leader = await led_community(notifier)
    base = f"http://127.0.0.1:{sinks.chat_port}"
    slack_path, mattermost_path = f"/hooks/slack-{unique}", f"/hooks/mm-{unique}"
    response = await notifier.client.put(
        f"/communities/{community}/channels",
        json={
            "channels": [
                {"id": "slack-main", "kind": "slack", "url": base + slack_path},
                {"id": "mm-main", "kind": "mattermost", "url": base + mattermost_path},
            ]
        },
        headers=bearer(leader),
    )
    assert response.status_code == 200, response.text
    assert {c["id"]: c["kind"] for c in response.json()} == {
        "slack-main": "slack",
        "mm-main": "mattermost",
    }

    earner = new_id("m")
    await notifier.send(profile(earner, "Eve"))
    await notifier.knows(profiles=[earner])
    event = new_event(
        BadgeAwarded(member_id=earner, badge="mentor", community_id=community, reason="<!here>"),
        source=SOURCE,
    )
    await notifier.send(event)

    def at(path: str) -> list[Doc]:
        return [p for p in sinks.posts() if p["path"] == path]

    async def both_posted() -> tuple[Doc, Doc] | None:
        slack, mattermost = at(slack_path), at(mattermost_path)
        return (slack[0], mattermost[0]) if slack and mattermost else None

    slack, mattermost = await until(both_posted, "a post to each community channel")

    body = slack["body"]
    assert set(body) == {"text", "blocks"}
    assert isinstance(body["text"], str)
    assert body["text"]
    assert "<!here>" not in body["text"], "member text can ping the Slack channel"
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds[:2] == ["header", "section"]
    header, section = body["blocks"][0], body["blocks"][1]
    assert header["text"] == {"type": "plain_text", "text": "Badge: mentor"}
    assert section["text"]["type"] == "mrkdwn"
    assert "Eve" in section["text"]["text"]
    assert slack["headers"]["idempotency-key"] == f"{event.id}:channel-slack-main:chat"
    assert "x-cop-signature" not in slack["headers"]

    assert set(mattermost["body"]) == {"text"}
    assert "Badge: mentor" in mattermost["body"]["text"]
    assert mattermost["headers"]["idempotency-key"] == f"{event.id}:channel-mm-main:chat"

    planned = await notifier.deliveries(cause_event_id=event.id)
    chat = sorted(d["channel"] for d in planned if d["member_id"] is None)
    assert chat == ["mm-main", "slack-main"], "the default webhook is used despite channels"
    assert posts_of(sinks, event) == []
    assert len(at(slack_path)) == 1
    assert len(at(mattermost_path)) == 1


async def test_only_the_leader_or_an_admin_sets_community_channels(notifier: Notifier) -> None:
    community, _ = await led_community(notifier)
    channels = {
        "channels": [{"id": "ours", "kind": "mattermost", "url": "http://127.0.0.1:9/hooks/x"}]
    }
    response = await notifier.client.put(
        f"/communities/{community}/channels", json=channels, headers=bearer(new_id("m"))
    )
    assert response.status_code == 403, response.text
    assert (await notifier.client.get(f"/communities/{community}/channels")).json() == []


async def test_a_channel_host_outside_the_allowlist_is_refused(notifier: Notifier) -> None:
    community, leader = await led_community(notifier)
    channels = {
        "channels": [
            {"id": "slack", "kind": "slack", "url": "https://hooks.slack.com/services/T0/B0/x"}
        ]
    }
    response = await notifier.client.put(
        f"/communities/{community}/channels", json=channels, headers=bearer(leader)
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "host_not_allowed"
    assert (await notifier.client.get(f"/communities/{community}/channels")).json() == []


# --- 7. one-click unsubscribe -----------------------------------------------------------------


async def test_one_click_unsubscribe_mutes_that_community_for_that_member(
    notifier: Notifier, sinks: Sinks
) -> None:
    community, leaving, staying, host = new_id("c"), new_id("m"), new_id("m"), new_id("m")
    await notifier.send(
        profile(leaving, "Lee"),
        profile(staying, "Sta"),
        joined(community, leaving),
        joined(community, staying),
    )
    await notifier.knows(
        profiles=[leaving, staying], community=community, members=[leaving, staying]
    )
    starts = minute(datetime.now(UTC)) + timedelta(days=6)
    first = scheduled(new_id("s"), community, starts, facilitator=host, title="First")
    await notifier.send(first)
    mail = await one_mail(sinks, leaving, "New session: First")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = urlsplit(str(mail["List-Unsubscribe"]).strip("<>"))
    assert link.path == "/unsubscribe"

    # What a mail client does (RFC 8058): a POST to the link, with no credentials of any kind.
    transport = httpx.ASGITransport(app=notifier.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as mail_client:
        response = await mail_client.post(
            f"{link.path}?{link.query}", data={"List-Unsubscribe": "One-Click"}
        )
    assert response.status_code == 200, response.text
    prefs = await notifier.client.get(f"/members/{leaving}/preferences", headers=bearer(leaving))
    assert prefs.status_code == 200
    assert prefs.json()["communities"] == {community: "muted"}

    second = scheduled(new_id("s"), community, starts, facilitator=host, title="Second")
    await notifier.send(second)
    await one_mail(sinks, staying, "New session: Second")
    planned = {d["member_id"] for d in await notifier.deliveries(cause_event_id=second.id)}
    assert leaving not in planned
    assert mails(sinks, leaving, "New session: Second") == []
    assert len(mails(sinks, leaving)) == 1
