"""Two replicas of every service, each pair one consumer group across the partitions: one
replica of each killed with `kill -9` in the middle of a stream and never restarted. The
survivor takes the dead one's partitions over once the group notices (its session times out)
and applies what the dead one held but had not committed: nothing acknowledged is lost, no
effect happens twice, every projection equals a clean replay."""

import asyncio
from functools import partial

import pytest

from tests.faults.conftest import PlatformFactory
from tests.faults.harness import (
    SERVICE_NAMES,
    Ledger,
    Platform,
    Sender,
    account,
    dead_lettered,
    eventually,
    group_members,
    replayed_equals,
    settled,
    workload,
)

pytestmark = pytest.mark.faults

EVENTS = 1200
REPLICAS = 2
VICTIM = 1
"""The replica killed: not the one the stream's `POST /ingest` goes to."""


async def every_group_has(platform: Platform, members: int) -> dict[str, int] | None:
    """The members of each consumer group when every group has exactly `members` (else None)."""
    found = await group_members(platform)
    return found if found and all(n == members for n in found.values()) else None


async def test_a_replica_of_each_service_killed_mid_stream_the_other_takes_over(
    platforms: PlatformFactory,
) -> None:
    platform = await platforms("scale", replicas=REPLICAS)
    for service in SERVICE_NAMES:
        assert await platform.ready(service, VICTIM), f"{service} replica {VICTIM} not ready"
        assert platform.replica_urls[VICTIM][service] != platform.urls[service]
    ledger = Ledger()
    groups: list[dict[str, int]] = []

    async def fault(chunk: int) -> None:
        if chunk == 1:  # both replicas of every group joined and hold partitions
            joined = await eventually(
                partial(every_group_has, platform, REPLICAS),
                what=f"{REPLICAS} members in every consumer group",
            )
            groups.append(joined)
        if chunk == 4:
            for service in SERVICE_NAMES:
                await asyncio.to_thread(platform.kill, service, VICTIM)

    await Sender(platform, ledger).send(
        workload(EVENTS, seed=41, namespace=platform.namespace), between=fault
    )
    (joined,) = groups
    assert len(joined) >= len(SERVICE_NAMES) + 2  # and the gateway's and the judge's groups
    survivors = await eventually(
        partial(every_group_has, platform, 1), what="every group down to its survivor"
    )
    assert set(survivors) == set(joined)
    await settled(platform)
    count = await account(platform, ledger, f"kill -9 of 1 of {REPLICAS} replicas of each service")
    assert count.missing == 0
    assert count.duplicates == 0
    assert await dead_lettered(platform) == dict.fromkeys(SERVICE_NAMES, 0)
    for service, (compared, diffs) in (await replayed_equals(platform)).items():
        assert compared > 0
        assert diffs == [], f"{service} differs from a clean replay: {diffs}"
