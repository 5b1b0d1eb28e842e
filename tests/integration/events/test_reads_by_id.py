"""Nothing on a hot path searches the database: commands, event handling and the query endpoints
address documents by `_id` alone (equality or `$in`), the one key every MongoDB-protocol server
looks up without scanning. mongo-java-server scans a collection for any other filter, so a query
on another field costs seconds once a collection holds years of history.

Checked on the commands the service's own MongoDB client sends, through a command listener."""

import pytest

from tests.integration.events.conftest import EventsApp
from tests.integration.events.mongo_commands import Commands, searches
from tests.integration.events.test_sessions import iso, schedule

pytestmark = pytest.mark.integration


async def test_commands_event_handling_and_queries_address_documents_by_id_only(
    watched: tuple[EventsApp, Commands],
) -> None:
    events, commands = watched
    community_id = await events.new_community(leader="lea")
    members = f"/communities/{community_id}/members"
    for member in ("ann", "bob.b", "cy"):
        await events.command("POST", members, {"member_id": member})
    await events.command("DELETE", f"{members}/cy")
    await events.command("PUT", "/members/ann/profile", {"name": "Ann", "email": "a@example.com"})
    held = await schedule(events, community_id, days=-7, facilitator_id="ann")
    await events.command("POST", f"/sessions/{held}/check-ins", {"member_id": "bob.b"})
    await events.command("POST", f"/sessions/{held}/hold", {"attendee_ids": ["ann"]})
    for member, rating in (("ann", 4), ("bob.b", 5), ("ann", 3)):
        await events.command("PUT", f"/sessions/{held}/feedback/{member}", {"rating": rating})
    upcoming = await schedule(events, community_id, days=7, format="workshop")
    await events.command("POST", f"/sessions/{upcoming}/reschedule", {"starts_at": iso(8)})
    gone = await schedule(events, community_id, days=3)
    await events.command("POST", f"/sessions/{gone}/cancel", {"reason": "holiday"})
    item = await events.command(
        "POST", f"/sessions/{held}/action-items", {"title": "Share the kata", "owner_id": "ann"}
    )
    await events.command(
        "POST", f"/sessions/{held}/action-items", {"title": "Try mobbing", "owner_id": "bob.b"}
    )
    item_id = str(item["subject"]).removeprefix("action_item/")
    await events.command("POST", f"/action-items/{item_id}/close", {"outcome": "done"})
    written = commands.take()

    sessions = f"/communities/{community_id}/sessions"
    assert [s["session_id"] for s in (await events.get(sessions))["items"]] == [upcoming]
    assert [s["session_id"] for s in (await events.get(sessions, when="past"))["items"]] == [held]
    assert (await events.get(sessions, format="workshop", **{"from": iso(1)}))["total"] == 1
    detail = await events.get(f"/sessions/{held}")
    assert detail["feedback"]["count"] == 2
    assert detail["feedback"]["average_rating"] == 4.0
    assert detail["attendance"] == {"checked_in": 1, "attended": 2}
    items = await events.get(f"/communities/{community_id}/action-items")
    assert [i["title"] for i in items["items"]] == ["Try mobbing"]
    rotation = await events.get(f"/communities/{community_id}/facilitators")
    assert rotation["facilitators"] == [{"facilitator_id": "ann", "sessions": 1}]
    roster = await events.get(members)
    assert [m["member_id"] for m in roster["items"]] == ["lea", "ann", "bob.b"]
    assert (await events.get(f"/communities/{community_id}"))["member_count"] == 3
    assert (await events.get(f"/sessions/{held}/feedback/ann"))["rating"] == 3
    assert (await events.get("/members/ann"))["name"] == "Ann"
    read = commands.take()

    assert searches(written) == [], "commands or event handling searched"
    assert searches(read) == [], "queries searched"
    # Not vacuous: the listener saw the reads it is meant to judge.
    finds = {(c, str(command.get("filter"))) for name, c, command in read if name == "find"}
    assert {c for c, _ in finds} >= {"communities", "community_sessions", "sessions", "feedback"}
    assert any(c == "sessions" and "$in" in f for c, f in finds)
    assert any(name == "update" for name, _, _ in written)
