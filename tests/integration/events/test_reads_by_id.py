"""Nothing on a hot path searches the database: commands, event handling and the query endpoints
address documents by `_id` alone (equality or `$in`), the one key every MongoDB-protocol server
looks up without scanning. mongo-java-server scans a collection for any other filter, so a query
on another field costs seconds once a collection holds years of history.

Checked on the commands the service's own MongoDB client sends, through a command listener."""

import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

import shared.runtime
from services.events.bootstrap import bootstrap
from services.events.settings import EventsSettings
from tests.infra import Infrastructure
from tests.integration.apps import drop_database, serving, settings_for
from tests.integration.events.conftest import EventsApp
from tests.integration.events.test_sessions import iso, schedule

pytestmark = pytest.mark.integration

# Reading or writing documents: the filter of each must be on `_id` alone.
FILTERED = {"find": "filter", "update": "updates", "delete": "deletes", "findAndModify": "query"}
# Commands that never address documents by `_id`: none may run on a hot path.
SEARCHES = {"count", "aggregate", "distinct", "mapReduce", "createIndexes"}


class Commands(CommandListener):
    """Every command a client starts, as (command name, collection, command)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    def started(self, event: CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        with self._lock:
            self.seen.append((event.command_name, str(collection), dict(event.command)))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    def take(self) -> list[tuple[str, str, dict[str, Any]]]:
        with self._lock:
            seen, self.seen = self.seen, []
        return seen


def by_id(filter_: dict[str, Any]) -> bool:
    if set(filter_) != {"_id"}:
        return False
    value = filter_["_id"]
    return not isinstance(value, dict) or set(value) == {"$in"}


def searches(seen: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """What in `seen` addressed documents by anything but `_id`."""
    found = []
    for name, collection, command in seen:
        if name in SEARCHES:
            found.append(f"{name} on {collection}: {command}")
        elif name == "find" and not by_id(command.get("filter", {})):
            found.append(f"find on {collection}: {command.get('filter')}")
        elif name in ("update", "delete"):
            statements = command.get(FILTERED[name], [])
            found += [f"{name} on {collection}: {s['q']}" for s in statements if not by_id(s["q"])]
        elif name == "findAndModify" and not by_id(command.get("query", {})):
            found.append(f"findAndModify on {collection}: {command.get('query')}")
    return found


@pytest.fixture
async def watched(
    infra: Infrastructure, unique: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[EventsApp, Commands]]:
    """The events service whose MongoDB client reports every command it sends."""
    commands = Commands()

    def listening_client(uri: str, *, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
        return AsyncMongoClient(
            uri,
            appname=app_name,
            serverSelectionTimeoutMS=5000,
            tz_aware=True,
            event_listeners=[commands],
        )

    monkeypatch.setattr(shared.runtime, "make_client", listening_client)
    settings = settings_for(EventsSettings, infra, f"evt{unique}")
    async with serving(bootstrap(settings), "events") as client:
        commands.take()  # start-up (the sources' indexes) is not a hot path
        yield EventsApp(client, settings), commands
    await drop_database(infra, settings.mongodb_database)


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
