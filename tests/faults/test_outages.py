"""The Kafka broker killed and restarted in the middle of a stream: producers retry (HTTP 503
problem+json with `Retry-After` while it is down, never a 202 for an unwritten event),
consumers resume, nothing acknowledged is lost, nothing is dead-lettered for the outage."""

import asyncio
import time
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import pytest

from copctl.devstack import stack
from copctl.devstack.processes import kill
from tests.faults.conftest import PlatformFactory
from tests.faults.harness import (
    INSTANCE,
    SERVICE_NAMES,
    SOURCE,
    Ledger,
    Platform,
    Sender,
    account,
    eventually,
    read_topic,
    settled,
    workload,
)

pytestmark = pytest.mark.faults

EVENTS = 1500
OUTAGE_S = 8


def probe_event() -> dict[str, Any]:
    member = f"probe-{uuid.uuid4().hex[:8]}"
    return {
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": SOURCE,
        "type": "cop.member.profile_updated.v1", "time": datetime.now(UTC).isoformat(),
        "partitionkey": member,
        "data": {"member_id": member, "name": "Pro Be", "email": f"{member}@example.com"},
    }  # fmt: skip


async def broker_outage(platform: Platform, seen: dict[str, Any]) -> None:
    kill(INSTANCE.name("kafka"))
    began = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{platform.urls['events']}/ingest",
            json=probe_event(),
            headers={"Authorization": f"Bearer {platform.api_key}"},
        )
        seen["probe"] = response
        seen["readyz_down"] = await eventually(
            lambda: _not_ready(platform, "events"), what="/readyz red", timeout_s=15
        )
    await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - began)))
    await asyncio.to_thread(stack.restart, "kafka", instance=INSTANCE)


async def _not_ready(platform: Platform, service: str) -> bool:
    return not await platform.ready(service)


async def test_kafka_broker_restart_mid_stream(platforms: PlatformFactory) -> None:
    platform = await platforms("kafka")
    events = workload(EVENTS, seed=21, namespace=platform.namespace)
    ledger = Ledger()
    seen: dict[str, Any] = {}
    outage: list[asyncio.Task[None]] = []

    async def fault(chunk: int) -> None:
        if chunk == 3:
            outage.append(asyncio.create_task(broker_outage(platform, seen)))

    await Sender(platform, ledger).send(events, between=fault)
    await asyncio.gather(*outage)

    probe = seen["probe"]
    assert probe.status_code == 503, probe.text
    assert probe.headers["content-type"].startswith("application/problem+json")
    assert int(probe.headers["retry-after"]) > 0
    assert seen["readyz_down"]
    for service in SERVICE_NAMES:
        await eventually(partial(platform.ready, service), what=f"{service} /readyz green")
    await settled(platform)
    count = await account(platform, ledger, "Kafka broker kill -9 and restart")
    assert count.missing == 0
    assert count.duplicates == 0
    for service in SERVICE_NAMES:
        letters = await read_topic(
            platform.infra.kafka_bootstrap_servers, platform.topic(f"cop.dlq.{service}")
        )
        assert letters == [], f"{service} dead-lettered {len(letters)} record(s) for an outage"
