"""Each community's aggregates (its roster, the index of its sessions and action items) are
maintained by the event handlers as facts arrive: the same whatever the batches, and left as they
were when Kafka redelivers a suffix of a partition."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.events.adapters.projection import PROJECTION_COLLECTIONS, EventsProjection
from services.events.event_handlers import event_handlers
from shared.consumer import ConsumedEvent, ConsumedRecord, decode_event
from shared.events.catalog import (
    ActionItemClosed,
    ActionItemOpened,
    AttendanceRecorded,
    Charter,
    CommunityCreated,
    CommunityLeaderChanged,
    EventData,
    FeedbackSubmitted,
    MemberJoined,
    MemberLeft,
    Role,
    SessionCancelled,
    SessionFormat,
    SessionHeld,
    SessionRescheduled,
    SessionScheduled,
)
from shared.events.codec import encode
from shared.events.envelope import new_event
from shared.mongo import make_client
from tests.infra import Infrastructure

pytestmark = pytest.mark.integration

C = "c-guild"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
Db = AsyncDatabase[dict[str, Any]]


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def history() -> list[EventData]:
    """One community's facts on both topics; ids with dots, which MongoDB reads as paths."""
    return [
        CommunityCreated(
            community_id=C, name="Guild", domain="testing", charter=Charter(purpose="p"),
            leader_id="lea",
        ),
        MemberJoined(community_id=C, member_id="ann.lee", role=Role.MENTOR),
        MemberJoined(community_id=C, member_id="bob"),
        MemberJoined(community_id=C, member_id="cy"),
        CommunityLeaderChanged(community_id=C, leader_id="ann.lee", previous_leader_id="lea"),
        MemberLeft(community_id=C, member_id="bob"),
        MemberJoined(community_id=C, member_id="bob", role=Role.SPONSOR),
        SessionScheduled(
            session_id="s.1", community_id=C, title="Katas", format=SessionFormat.WORKSHOP,
            starts_at=at(60), duration_minutes=60, facilitator_id="lea",
        ),
        SessionScheduled(
            session_id="s2", community_id=C, title="Papers", format=SessionFormat.JOURNAL_CLUB,
            starts_at=at(120), duration_minutes=60, facilitator_id="cy",
        ),
        SessionRescheduled(session_id="s.1", community_id=C, starts_at=at(90)),
        AttendanceRecorded(
            session_id="s.1", community_id=C, member_id="cy", checked_in_at=at(91)
        ),
        SessionHeld(
            session_id="s.1", community_id=C, held_at=at(90), duration_minutes=50,
            format=SessionFormat.WORKSHOP, title="Katas", facilitator_id="ann.lee",
            attendee_ids=["cy", "lea"],
        ),
        SessionCancelled(session_id="s2", community_id=C, reason="clash"),
        FeedbackSubmitted(session_id="s.1", community_id=C, member_id="cy", rating=3),
        FeedbackSubmitted(session_id="s.1", community_id=C, member_id="lea", rating=5),
        FeedbackSubmitted(session_id="s.1", community_id=C, member_id="cy", rating=4),
        ActionItemOpened(action_item_id="a.1", community_id=C, session_id="s.1", title="x",
                         owner_id="cy"),
        ActionItemOpened(action_item_id="a2", community_id=C, session_id="s.1", title="y",
                         owner_id="lea"),
        ActionItemClosed(action_item_id="a.1", community_id=C, session_id="s.1", title="x",
                         owner_id="cy", outcome="done"),
        # From another system, the wrong way round: a closing before its opening.
        ActionItemClosed(action_item_id="a3", community_id=C, title="z", owner_id="cy",
                         outcome="moot"),
        ActionItemOpened(action_item_id="a3", community_id=C, title="z", owner_id="cy"),
    ]  # fmt: skip


def consumed(events: list[EventData]) -> list[ConsumedEvent]:
    """The facts as the consumer hands them over, one minute apart, in partition order."""
    batch = []
    for offset, data in enumerate(events):
        record = encode(new_event(data, source="tests", event_id=f"e{offset}", time=at(offset)))
        decoded = decode_event(
            ConsumedRecord(record.topic, 0, offset, record.key, record.value, record.headers)
        )
        assert decoded is not None
        batch.append(decoded)
    return batch


@pytest.fixture
async def databases(infra: Infrastructure, unique: str) -> AsyncIterator[tuple[Db, Db]]:
    client = make_client(infra.mongodb_uri, app_name="tests")
    first, second = client[f"agg{unique}_a"], client[f"agg{unique}_b"]
    yield first, second
    for db in (first, second):
        await client.drop_database(db.name)
    await client.close()


async def snapshot(db: Db) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [doc async for doc in db[name].find().sort("_id", 1)]
        for name in (*PROJECTION_COLLECTIONS, "applied_events")
    }


async def test_aggregates_do_not_depend_on_batches_and_a_redelivered_suffix_changes_nothing(
    databases: tuple[Db, Db],
) -> None:
    one_by_one, batched = databases
    events = consumed(history())
    apply_one = event_handlers(EventsProjection(one_by_one))
    for event in events:
        await apply_one([event])
    apply_all = event_handlers(EventsProjection(batched))
    await apply_all(events)
    expected = await snapshot(one_by_one)
    assert await snapshot(batched) == expected

    for start in range(len(events)):  # every suffix, as one batch and event by event
        await apply_all(events[start:])
        for event in events[start:]:
            await apply_one([event])
        assert await snapshot(batched) == expected, f"redelivery from {start} changed it"
        assert await snapshot(one_by_one) == expected, f"redelivery from {start} changed it"


async def test_the_aggregates_hold_what_the_lists_need(databases: tuple[Db, Db]) -> None:
    db, _ = databases
    await event_handlers(EventsProjection(db))(consumed(history()))
    community = await db["communities"].find_one({"_id": C})
    assert community is not None
    roster = {e["member_id"]: e for e in community["roster"].values()}
    assert {m: e["role"] for m, e in roster.items()} == {
        "lea": "core",
        "ann.lee": "core",
        "cy": "member",
        "bob": "sponsor",
    }
    assert roster["ann.lee"]["joined_at"] == at(1)  # kept when the role changed
    assert roster["bob"]["joined_at"] == at(6)  # joined again after leaving

    index = await db["community_sessions"].find_one({"_id": C})
    assert index is not None
    sessions = {e["session_id"]: e for e in index["sessions"].values()}
    assert sessions["s.1"] == {
        "session_id": "s.1",
        "title": "Katas",
        "format": "workshop",
        "starts_at": at(90),
        "facilitator_id": "ann.lee",
        "status": "held",
        "held_at": at(90),
    }
    assert sessions["s2"]["status"] == "cancelled"
    items = {e["action_item_id"]: e["open"] for e in index["action_items"].values()}
    assert items == {"a.1": False, "a2": True, "a3": False}

    held = await db["sessions"].find_one({"_id": "s.1"})
    assert held is not None
    assert held["feedback_member_ids"] == ["cy", "lea"]
    assert "memberships" not in await db.list_collection_names()
