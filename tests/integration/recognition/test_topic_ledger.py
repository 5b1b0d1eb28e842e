"""A backlog topic proposed and held gives its proposer a ledger entry (give 1), through the
events service's holding of the session the topic became."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.infra import Infrastructure
from tests.integration.polling import eventually
from tests.integration.recognition.beside_events import BesideEvents, beside_events

pytestmark = pytest.mark.integration


@pytest.fixture
async def platform(infra: Infrastructure, unique: str) -> AsyncIterator[BesideEvents]:
    async with beside_events(infra, f"tld{unique}") as running:
        yield running


async def test_the_proposer_of_a_topic_held_gets_one_give_point(platform: BesideEvents) -> None:
    community = await platform.community("lea", "ann", "bob", "cat")
    proposed = await platform.act(
        "ann",
        "POST",
        f"/communities/{community}/topics",
        {"title": "Chaos", "speaker_ids": ["bob"]},
    )
    await platform.act("cat", "PUT", f"/topics/{proposed['topic_id']}/vote")
    starts = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    session = {"format": "workshop", "starts_at": starts.isoformat(), "facilitator_id": "lea"}
    scheduled = await platform.act(
        "lea", "POST", f"/topics/{proposed['topic_id']}/schedule", session
    )
    await platform.act(
        "lea", "POST", f"/sessions/{scheduled['session_id']}/hold", {"attendee_ids": ["cat"]}
    )

    async def credited() -> dict[str, Any] | None:
        found = await platform.read("/members/ann/profile", community=community)
        return found if found["give"] else None

    ann = await eventually(credited, what="the proposer's ledger entry")
    assert (ann["give"], ann["take"]) == (1, 0)
    # The session's own entries as ever: the speaker and the facilitator 3, the attendee takes 1.
    bob = await platform.read("/members/bob/profile", community=community)
    cat = await platform.read("/members/cat/profile", community=community)
    assert (bob["give"], cat["give"], cat["take"]) == (3, 0, 1)
