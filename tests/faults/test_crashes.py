"""kill -9 of each service in the middle of a stream of events, and a redelivery of everything:
nothing acknowledged is lost, no effect happens twice, every projection equals a clean replay."""

import asyncio
import time
from typing import Any

import pytest

from tests.faults.conftest import PlatformFactory
from tests.faults.harness import (
    Ledger,
    Platform,
    Sender,
    account,
    replayed_equals,
    settled,
    types_of,
    workload,
)

pytestmark = pytest.mark.faults

EVENTS = 2000
VICTIMS = ("events", "knowledge", "recognition", "notifier")
# Fields written from the clock when an event is applied, not from the event.
PROCESSING_TIME = frozenset({"updated_at", "applied_at", "dirty"})
"""`dirty` is recognition's queue of months to evaluate again, stamped with the clock."""
PROJECTIONS = {
    "events": ("communities", "community_sessions", "sessions", "feedback", "action_items",
               "members"),
    "knowledge": ("artifacts", "artifact_versions", "backlinks", "member_teams",
                  "community_leaders"),
    "recognition": ("kudos", "community_months", "rosters", "member_teams", "artifacts",
                    "action_items", "member_rollups", "member_communities", "communities"),
    "notifier": ("profiles", "rosters", "sessions", "artifact_tags", "leaders"),
}  # fmt: skip


async def restart_soon(platform: Platform, service: str, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    await asyncio.to_thread(platform.restart, service)


async def test_kill_9_of_each_service_mid_stream(platforms: PlatformFactory) -> None:
    platform = await platforms("kill")
    events = workload(EVENTS, seed=11, namespace=platform.namespace)
    assert len(types_of(events)) >= 18  # every type other systems send
    ledger = Ledger()
    restarts: list[asyncio.Task[Any]] = []

    async def fault(chunk: int) -> None:
        for k, victim in enumerate(VICTIMS):
            if chunk == 2 + 4 * k:
                platform.kill(victim)
                restarts.append(asyncio.create_task(restart_soon(platform, victim, 2)))

    began = time.monotonic()
    await Sender(platform, ledger).send(events, between=fault)
    print(f"sent in {time.monotonic() - began:.1f}s", flush=True)
    await asyncio.gather(*restarts)
    await settled(platform)
    count = await account(platform, ledger, "kill -9 of each service")
    assert count.missing == 0
    assert count.duplicates == 0
    for service in VICTIMS:
        compared, diffs = await replayed_equals(
            platform, service, PROJECTIONS[service], PROCESSING_TIME
        )
        assert compared > 0
        assert diffs == [], f"{service} differs from a clean replay: {diffs}"
