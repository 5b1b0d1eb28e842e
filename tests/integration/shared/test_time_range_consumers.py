"""The consumers of sessions and kudos, on the real stack, with times at both ends of the range
every service accepts (0002-01-01T00:00:00Z to 9998-12-31T23:59:59.999999Z, in an event's time
and data): each is handled, none is dead-lettered.

The notifier plans invitations, reminders (a day and an hour before), quiet hours and weekly
digests in the furthest timezones (UTC+14, UTC-12); recognition judges kudos against their
month's allowance, counts held sessions in their month's health (with the month before it) and
evaluates the ended month (the three months before it and the quarter).
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.notifier.adapters.directory import Directory
from services.notifier.bootstrap import bootstrap as notifier_bootstrap
from services.notifier.settings import NotifierSettings
from services.recognition.bootstrap import bootstrap as recognition_bootstrap
from services.recognition.settings import RecognitionSettings
from shared.documents import Doc
from shared.events.catalog import (
    KudosGiven,
    MemberJoined,
    MemberProfileUpdated,
    SessionHeld,
    SessionScheduled,
)
from shared.events.envelope import CloudEvent, new_event, utc_now
from shared.events.times import EARLIEST, LATEST
from shared.events.topics import dlq_topic
from shared.mongo import make_client
from tests.infra import Infrastructure
from tests.integration.apps import drop_database, serving, settings_for
from tests.integration.kafka_io import produce_events, published_count
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration

SOURCE = "test/time-range"
LAST = LATEST.replace(microsecond=999_000)  # MongoDB keeps milliseconds
EDGES = {"first": EARLIEST, "last": LAST}
LATE_QUIET = datetime(9999, 1, 1, 12, tzinfo=UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def profile(member_id: str, timezone: str) -> CloudEvent:
    return new_event(
        MemberProfileUpdated(
            member_id=member_id,
            name=member_id,
            email=f"{member_id}@example.com",
            timezone=timezone,
        ),
        source=SOURCE,
    )


def scheduled(community_id: str, host: str, at: datetime, sent: datetime) -> CloudEvent:
    data = SessionScheduled(
        session_id=new_id("s"), community_id=community_id, title="At the edge of time",
        format="brown_bag", starts_at=at, duration_minutes=24 * 60, facilitator_id=host,
    )  # fmt: skip
    return new_event(data, source=SOURCE, time=sent)


async def deliveries(client: httpx.AsyncClient, **params: str) -> list[Doc]:
    response = await client.get("/deliveries", params={**params, "limit": "500"})
    assert response.status_code == 200, response.text
    items: list[Doc] = response.json()["items"]
    return items


def kinds(found: Sequence[Doc], member_id: str) -> set[str]:
    return {d["kind"] for d in found if d["member_id"] == member_id}


async def test_the_notifier_plans_sessions_at_both_ends_of_the_range_in_every_timezone(
    infra: Infrastructure, unique: str
) -> None:
    settings = settings_for(
        NotifierSettings, infra, f"ttn{unique}", chat_webhook_url=None, dispatch_interval_s=600.0
    )
    community = new_id("c")
    east, west, host = new_id("east"), new_id("west"), new_id("host")
    mongo = make_client(infra.mongodb_uri, app_name="test-time-range")
    servers, prefix = infra.kafka_bootstrap_servers, settings.kafka_topic_prefix
    try:
        async with serving(notifier_bootstrap(settings), "notifier") as client:
            await produce_events(
                servers,
                prefix,
                [
                    profile(east, "Pacific/Kiritimati"),
                    profile(west, "Etc/GMT+12"),
                    profile(host, "UTC"),
                    new_event(MemberJoined(community_id=community, member_id=east), source=SOURCE),
                    new_event(MemberJoined(community_id=community, member_id=west), source=SOURCE),
                ],
            )
            directory = Directory(mongo[settings.mongodb_database])

            async def known() -> bool:
                people = await directory.people([east, west, host])
                return len(people) == 3 and {east, west} <= await directory.members(community)

            await eventually(known, what="the profiles and memberships in the notifier")
            digest = {"communities": {community: "digest"}, "digest": "weekly"}
            quiet = {"quiet_hours": {"start": "00:00", "end": "23:59"}}
            for member_id, prefs in ((east, digest), (west, quiet)):
                response = await client.put(f"/members/{member_id}/preferences", json=prefs)
                assert response.status_code == 200, response.text

            events = {
                "first": scheduled(community, host, EARLIEST, sent=EARLIEST),
                "last": scheduled(community, host, LAST, sent=utc_now()),
                "sent last": scheduled(community, host, LAST, sent=LAST),
            }
            await produce_events(servers, prefix, list(events.values()))

            async def planned() -> dict[str, list[Doc]] | None:
                found = {
                    n: await deliveries(client, cause_event_id=e.id) for n, e in events.items()
                }
                if all(west in {d["member_id"] for d in f} for f in found.values()):
                    return found
                return None

            found = await eventually(planned, what="the sessions planned for the member in UTC-12")
            digests = [d for d in await deliveries(client, member_id=east) if d["kind"] == "digest"]

            # The last session is still ahead: its reminders are planned a day and an hour before,
            # held by quiet hours for the member in UTC-12. The first is long past, and the one
            # sent at the range's last instant was past its reminders' times when sent: none.
            assert kinds(found["last"], west) == {"session_scheduled", "reminder"}
            assert kinds(found["first"], west) == {"session_scheduled"}
            assert kinds(found["sent last"], west) == {"session_scheduled"}
            reminders = [d for d in found["last"] if d["kind"] == "reminder"]
            assert {d["member_id"] for d in reminders} == {west, host}
            earliest_due = LAST - timedelta(hours=max(settings.reminder_offsets_h))
            for reminder in reminders:
                due = datetime.fromisoformat(reminder["due_at"])
                # held by quiet hours until 23:59 in UTC-12: 9999-01-01T11:59Z, past the start
                assert earliest_due <= due < (LAST if reminder["member_id"] == host else LATE_QUIET)
            # the weekly digest of the announcement sent at the range's last instant, for the
            # member in UTC+14: the Monday after, in 9999
            assert max(datetime.fromisoformat(d["due_at"]) for d in digests) > LAST, digests
            assert await published_count(servers, prefix + dlq_topic("notifier")) == 0
    finally:
        await mongo.close()
        await drop_database(infra, settings.mongodb_database)


async def test_recognition_counts_and_evaluates_facts_at_both_ends_of_the_range(
    infra: Infrastructure, unique: str
) -> None:
    settings = settings_for(
        RecognitionSettings,
        infra,
        f"ttr{unique}",
        health_evaluation_interval_s=0.5,
        health_settle_s=0.0,
    )
    community, giver, taker = new_id("c"), new_id("m"), new_id("m")
    servers, prefix = infra.kafka_bootstrap_servers, settings.kafka_topic_prefix
    mongo = make_client(infra.mongodb_uri, app_name="test-time-range")
    events: list[CloudEvent] = []
    kudos_ids = []
    for at in EDGES.values():
        held = SessionHeld(
            session_id=new_id("s"), community_id=community, held_at=at, duration_minutes=60,
            format="workshop", title="At the edge of time", facilitator_id=giver,
            attendee_ids=[taker],
        )  # fmt: skip
        kudos = KudosGiven(
            kudos_id=new_id("k"), from_id=giver, to_ids=[taker], community_id=community,
            message="thanks", value_tag="helpfulness",
        )  # fmt: skip
        kudos_ids.append(kudos.kudos_id)
        events += [
            new_event(held, source=SOURCE, time=at),
            new_event(kudos, source=SOURCE, time=at),
        ]
    try:
        async with serving(recognition_bootstrap(settings), "recognition") as client:
            await produce_events(servers, prefix, events)

            async def judged() -> bool:
                for kudos_id in kudos_ids:
                    response = await client.get(f"/kudos/{kudos_id}")
                    if response.status_code != 200 or response.json()["status"] != "judged":
                        return False
                return True

            await eventually(judged, what="both kudos judged")
            for key in ("0002-01", "0002-Q1", "9998-12", "9998-Q4"):
                health = await client.get(
                    f"/communities/{community}/health", params={"period": key}
                )
                assert health.status_code == 200, health.text
                assert health.json()["metrics"]["sessions_held"] == 1, (key, health.json())
            for key in ("0002-01", "9998-12", "0002-W01", "9998-W53"):
                board = await client.get(
                    f"/communities/{community}/leaderboard", params={"period": key}
                )
                assert board.status_code == 200, board.text
                assert taker in {e["member_id"] for e in board.json()["entries"]}, key

            communities = mongo[settings.mongodb_database]["communities"]

            async def first_month_evaluated() -> bool:
                doc = await communities.find_one({"_id": community}) or {}
                return doc.get("first_month") == "0002-01" and "0002-01" not in doc.get("dirty", {})

            await eventually(first_month_evaluated, what="the health evaluation of 0002-01")
            assert await published_count(servers, prefix + dlq_topic("recognition")) == 0
    finally:
        await mongo.close()
        await drop_database(infra, settings.mongodb_database)
