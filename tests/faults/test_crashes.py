"""kill -9 of each service in the middle of a stream of events: nothing acknowledged is lost, no
effect happens twice, every projection equals a clean replay."""

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

EVENTS = 1200
VICTIMS = ("events", "knowledge", "recognition", "notifier")


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
    for service, (compared, diffs) in (await replayed_equals(platform, VICTIMS)).items():
        assert compared > 0
        assert diffs == [], f"{service} differs from a clean replay: {diffs}"
