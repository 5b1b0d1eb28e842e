"""The events projection rebuilt from its topics equals the live one."""

from typing import Any

import pytest

from services.events.adapters.projection import PROJECTION_COLLECTIONS
from services.events.bootstrap import bootstrap
from services.events.settings import EventsSettings
from shared.mongo import make_client
from tests.infra import Infrastructure
from tests.integration.apps import drop_database, serving, settings_for
from tests.integration.events.conftest import EventsApp
from tests.integration.events.test_sessions import iso, schedule
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration


async def snapshot(infra: Infrastructure, database: str) -> dict[str, list[dict[str, Any]]]:
    client = make_client(infra.mongodb_uri, app_name="tests")
    try:
        db = client[database]
        return {
            name: [doc async for doc in db[name].find().sort("_id", 1)]
            for name in (*PROJECTION_COLLECTIONS, "applied_events")
        }
    finally:
        await client.close()


async def rebuilt_by(
    infra: Infrastructure, settings: EventsSettings, applied: int, what: str
) -> dict[str, list[dict[str, Any]]]:
    """Run the events service on `settings` until its projection has applied `applied` events;
    the projection once it stopped (its database is dropped then)."""
    async with serving(bootstrap(settings), "events"):

        async def caught_up() -> bool:
            now = await snapshot(infra, settings.mongodb_database)
            return len(now["applied_events"]) == applied

        await eventually(caught_up, what=what)
    found = await snapshot(infra, settings.mongodb_database)
    await drop_database(infra, settings.mongodb_database)
    return found


async def replayed(
    infra: Infrastructure,
    live: EventsSettings,
    applied: int,
    what: str = "the replayed projection to catch up",
) -> dict[str, list[dict[str, Any]]]:
    """The projection a second events service rebuilds from the live one's topics, in a database
    and consumer group of its own, once it has applied `applied` events."""
    replay = live.model_copy(
        update={
            "mongodb_database": f"{live.mongodb_database}_replayed",
            "kafka_consumer_group": f"{live.kafka_consumer_group}-replay",
        }
    )
    return await rebuilt_by(infra, replay, applied, what)


async def test_projection_rebuilt_by_replaying_the_topics_equals_the_live_one(
    infra: Infrastructure, events: EventsApp
) -> None:
    community_id = await events.new_community(leader="lea")
    other = await events.new_community(leader="max")
    await events.command("PATCH", f"/communities/{community_id}", {"stage": "coalescing"})
    await events.command("PUT", f"/communities/{community_id}/leader", {"leader_id": "ann"})
    for member in ("bob", "cy"):
        await events.command("POST", f"/communities/{community_id}/members", {"member_id": member})
    await events.command("DELETE", f"/communities/{community_id}/members/cy")
    await events.command("PUT", "/members/bob/profile", {"name": "Bob", "email": "bob@example.com"})
    held = await schedule(events, community_id, days=-1)
    await events.command("POST", f"/sessions/{held}/check-ins", {"member_id": "bob"})
    await events.command("POST", f"/sessions/{held}/hold", {"attendee_ids": ["ann"]})
    await events.command("PUT", f"/sessions/{held}/feedback/bob", {"rating": 3})
    await events.command("PUT", f"/sessions/{held}/feedback/bob", {"rating": 5, "plus": "kata"})
    item = await events.command(
        "POST", f"/sessions/{held}/action-items", {"title": "Pair on katas", "owner_id": "bob"}
    )
    item_id = str(item["subject"]).removeprefix("action_item/")
    await events.command("POST", f"/action-items/{item_id}/close", {"outcome": "done"})
    moved = await schedule(events, other, days=5)
    await events.command("POST", f"/sessions/{moved}/reschedule", {"starts_at": iso(6)})
    await events.command("POST", f"/sessions/{moved}/cancel", {"reason": "clash"})
    live = await snapshot(infra, events.settings.mongodb_database)

    rebuilt = await replayed(infra, events.settings, len(live["applied_events"]))
    assert len(live["applied_events"]) == 18
    for name in live:
        assert rebuilt[name] == live[name], f"{name} differs after replay"


async def test_copctl_replay_rebuilds_the_projection_of_the_stopped_service_in_place(
    infra: Infrastructure, unique: str
) -> None:
    from copctl.replay import ReplayRefused, replay
    from tests.integration.events.conftest import EventsApp

    settings = settings_for(EventsSettings, infra, f"rpl{unique}")
    async with serving(bootstrap(settings), "events") as client:
        app = EventsApp(client, settings)
        community_id = await app.new_community(leader="lea")
        await app.command("POST", f"/communities/{community_id}/members", {"member_id": "bob"})
        session_id = await schedule(app, community_id, days=-2)
        await app.command("POST", f"/sessions/{session_id}/hold", {"attendee_ids": ["bob"]})
        await app.command("PUT", f"/sessions/{session_id}/feedback/bob", {"rating": 4})
        before = await snapshot(infra, settings.mongodb_database)
        with pytest.raises(ReplayRefused, match="stop events first"):
            await replay("events", settings)

    done = await replay("events", settings)
    assert done["partitions"] == 2 * settings.kafka_topic_partitions
    emptied = await snapshot(infra, settings.mongodb_database)
    assert all(docs == [] for docs in emptied.values())

    after = await rebuilt_by(
        infra, settings, len(before["applied_events"]), "the projection rebuilt from the topics"
    )
    assert after == before
