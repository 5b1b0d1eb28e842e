"""A community's roster in the notifier: each member's latest join or leave wins, whatever order
and however often the events arrive, and the roster holds one entry a member however long the
history (the server rewrites a whole document on every change)."""

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.adapters.directory import Directory, DirectoryWrites
from shared.keys import field_key
from tests.infra import Infrastructure

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def directory(infra: Infrastructure, unique: str) -> AsyncIterator[Directory]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    db: AsyncDatabase[dict[str, Any]] = client[f"rosters_{unique}"]
    try:
        yield Directory(db)
        await client.drop_database(db.name)
    finally:
        await client.close()


async def test_the_latest_join_or_leave_wins_in_any_order_and_on_redelivery(
    directory: Directory,
) -> None:
    # grace: joins, leaves, joins again; alan: joins, then leaves; ada: joins once.
    history = [
        ("grace", T0, True),
        ("grace", T0 + timedelta(days=3), False),
        ("grace", T0 + timedelta(days=9), True),
        ("alan", T0 + timedelta(days=1), True),
        ("alan", T0 + timedelta(days=2), False),
        ("ada", T0 + timedelta(days=4), True),
    ]
    shuffled = history * 2  # every event delivered twice
    random.Random(7).shuffle(shuffled)
    for n, (member, at, joined) in enumerate(shuffled):
        key = field_key(f"event-{member}-{at.isoformat()}")
        await directory.membership("c1", member, key, at, joined)
        if n == len(history) - 1:
            assert await directory.members("c1") <= {"grace", "alan", "ada"}
    assert await directory.members("c1") == {"grace", "ada"}


async def test_a_long_history_leaves_one_entry_a_member(directory: Directory) -> None:
    for day in range(200):
        at = T0 + timedelta(days=day)
        await directory.membership("c2", "grace", field_key(f"e{day}"), at, day % 2 == 0)
        await directory.membership("c2", "alan", field_key(f"f{day}"), at, True)
    roster = await directory.rosters.find_one({"_id": "c2"})
    assert roster is not None
    assert len(roster["latest"]) == 2
    assert await directory.members("c2") == {"alan"}, "grace's last event (day 199) is a leave"


async def test_entries_written_by_an_earlier_version_still_count(directory: Directory) -> None:
    """A roster kept one entry per event before; until a replay rebuilds it, both are read."""
    await directory.rosters.insert_one(
        {
            "_id": "c3",
            "m": {
                field_key("old-1"): [T0, "grace", True],
                field_key("old-2"): [T0 + timedelta(days=1), "alan", True],
            },
        }
    )
    await directory.membership("c3", "alan", field_key("new-1"), T0 + timedelta(days=2), False)
    await directory.membership("c3", "ada", field_key("new-2"), T0 + timedelta(days=2), True)
    assert await directory.members("c3") == {"grace", "ada"}


async def test_batches_staged_together_give_what_one_event_at_a_time_gives(
    directory: Directory,
) -> None:
    """A batch's joins, leaves and profiles are staged and written together; in batches of any
    size and order, redelivered too, the rosters and profiles end as the events one by one
    would leave them: each member's latest join or leave, each member's newest profile."""
    changes = [
        ("grace", True),
        ("alan", True),
        ("grace", False),
        ("ada", True),
        ("alan", False),
        ("grace", True),
        ("edsger", True),
        ("ada", False),
        ("ada", True),
    ]
    events = [(m, T0 + timedelta(days=day), joined) for day, (m, joined) in enumerate(changes)]
    older_again = sorted(events, key=lambda e: e[1])[:6]  # redelivered after the newest
    random.Random(11).shuffle(older_again)
    shuffled = events * 2
    random.Random(5).shuffle(shuffled)
    batches = [sorted(events, key=lambda e: e[1], reverse=True)]
    batches += [older_again[:2], older_again[2:3], older_again[3:]]
    rng = random.Random(3)
    while shuffled:
        size = rng.randint(1, 5)
        batches.append(shuffled[:size])
        shuffled = shuffled[size:]
    newest = {m: max(at for who, at, _ in events if who == m) for m, _, _ in events}
    newest_names = {m: f"{m} {at:%d}" for m, at in newest.items()}
    for batch in batches:
        writes = DirectoryWrites(directory)
        for member, at, joined in batch:
            key = field_key(f"event-{member}-{at.isoformat()}")
            writes.membership("c4", member, key, at, joined)
            fields = {"member_id": member, "name": f"{member} {at:%d}", "email": None}
            writes.profile(member, fields, at)
        assert await writes.flush() == []
        # After the first batch (every event, newest first), nothing that follows changes it.
        assert await directory.members("c4") == {"grace", "ada", "edsger"}
        people = await directory.people(newest)
        assert {m: p["name"] for m, p in people.items()} == newest_names


async def test_a_flush_names_the_members_whose_profile_brought_an_address(
    directory: Directory,
) -> None:
    writes = DirectoryWrites(directory)
    writes.profile("ada", {"member_id": "ada", "email": "ada@example.org"}, T0)
    writes.profile("alan", {"member_id": "alan", "email": None}, T0)
    writes.profile("ada", {"member_id": "ada", "email": None}, T0 - timedelta(days=1))
    assert await writes.flush() == ["ada"]
    assert (await directory.people(["ada"]))["ada"]["email"] == "ada@example.org"
    assert await writes.flush() == [], "a flush writes what was staged once"
