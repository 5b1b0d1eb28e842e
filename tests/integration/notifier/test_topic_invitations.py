"""A backlog topic scheduled as a session invites its voters, as watching members are invited,
unless they muted the community: the events service and the notifier on one broker, the
invitation read from the SMTP sink."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.events.bootstrap import bootstrap as events_app
from services.events.settings import EventsSettings
from tests.infra import Infrastructure
from tests.integration.apps import act_as, drop_database, serving, settings_for
from tests.integration.notifier.test_routing import (
    Notifier,
    address,
    invitation,
    mails,
    minute,
    one_mail,
    routing_settings,
    running,
)
from tests.sinks import Sinks

pytestmark = pytest.mark.integration


@dataclass
class Platform:
    events: httpx.AsyncClient
    notifier: Notifier

    async def act(self, member: str, method: str, url: str, body: Any = None) -> dict[str, Any]:
        return await act_as(self.events, member, method, url, body)


@pytest.fixture
async def platform(infra: Infrastructure, sinks: Sinks, unique: str) -> AsyncIterator[Platform]:
    namespace = f"tiv{unique}"
    events_settings = settings_for(EventsSettings, infra, namespace)
    notifier_settings = routing_settings(infra, sinks, namespace)
    async with (
        serving(events_app(events_settings), "events") as events,
        running(infra, notifier_settings) as notifier,
    ):
        yield Platform(events, notifier)
    await drop_database(infra, events_settings.mongodb_database)
    await drop_database(infra, notifier_settings.mongodb_database)


async def test_a_scheduled_topic_invites_its_voters_unless_they_muted_the_community(
    platform: Platform, sinks: Sinks
) -> None:
    run = uuid.uuid4().hex[:6]
    community = f"c-{run}"
    leader, voter, muted, bystander = (f"{m}{run}" for m in ("lea", "ann", "bob", "cat"))
    await platform.act(
        "ops",
        "POST",
        "/communities",
        {
            "community_id": community,
            "name": "Testing guild",
            "domain": "testing",
            "charter": {"purpose": "Learn from each other"},
            "leader_id": leader,
        },
    )
    everyone = [leader, voter, muted, bystander]
    for member in everyone:
        profile = {"name": member.title(), "email": address(member)}
        await platform.act(member, "PUT", f"/members/{member}/profile", profile)
    for member in everyone[1:]:
        await platform.act(
            member, "POST", f"/communities/{community}/members", {"member_id": member}
        )
    await platform.notifier.knows(profiles=everyone, community=community, members=everyone[1:])
    # The voter reads the community in a digest, yet is invited at once, as a watcher would be.
    await platform.notifier.set_preferences(voter, {"communities": {community: "digest"}})
    await platform.notifier.set_preferences(bystander, {"communities": {community: "digest"}})
    await platform.notifier.set_preferences(muted, {"communities": {community: "muted"}})

    title = "Property-based testing"
    proposed = await platform.act(
        voter, "POST", f"/communities/{community}/topics", {"title": title}
    )
    topic_id = proposed["topic_id"]
    for member in (voter, muted):
        await platform.act(member, "PUT", f"/topics/{topic_id}/vote")
    starts = minute(datetime.now(UTC)) + timedelta(days=5)
    session = {"format": "brown_bag", "starts_at": starts.isoformat(), "facilitator_id": leader}
    scheduled = await platform.act(leader, "POST", f"/topics/{topic_id}/schedule", session)

    mail = await one_mail(sinks, voter, f"New session: {title}")
    event = invitation(mail, "REQUEST")
    assert scheduled["session_id"] in str(event["UID"])
    assert event.decoded("DTSTART") == starts
    assert address(voter) in str(event["ATTENDEE"])

    planned = await platform.notifier.deliveries(cause_event_id=scheduled["event_id"])
    now = {d["member_id"] for d in planned if d["kind"] == "session_scheduled"}
    assert voter in now
    assert leader in now  # the facilitator, as for any session
    assert muted not in now
    assert bystander not in now  # a digest reader who did not vote hears of it in the digest
    assert mails(sinks, muted) == []
    assert mails(sinks, bystander) == []
