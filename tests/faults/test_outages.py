"""A dependency taken away in the middle of a stream and given back: the Kafka broker, the
MongoDB-protocol server, Redis.

While it is away, `POST /ingest` answers 503 `application/problem+json` with `Retry-After`
(never a 202 for an event it did not write) and `/readyz` names the dependency; consumers rewind
and back off instead of skipping or dead-lettering. Afterwards every service is ready again,
nothing acknowledged is missing, no effect happened twice and nothing was dead-lettered.
"""

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import pytest

from copctl.devstack import stack
from copctl.devstack.processes import kill, stop
from tests.faults.conftest import PlatformFactory
from tests.faults.harness import (
    INSTANCE,
    SERVICE_NAMES,
    SOURCE,
    Ledger,
    Platform,
    Sender,
    account,
    dead_lettered,
    eventually,
    settled,
    workload,
)

pytestmark = pytest.mark.faults

OUTAGE_S = 8
EVENTS = 1200


@dataclass(frozen=True)
class Outage:
    """A dependency (its `/readyz` check name, the name of its process) taken away by `how`
    (`kill` or `stop`) and given back by `stack.restart`."""

    dependency: str
    how: Callable[[str], object]

    def take_away(self) -> None:
        self.how(INSTANCE.name(self.dependency))

    def give_back(self) -> None:
        stack.restart(self.dependency, instance=INSTANCE)


@dataclass
class Seen:
    """What the platform answered while the dependency was away."""

    probe: httpx.Response | None = None
    red: dict[str, dict[str, str] | None] | None = None  # service -> failing checks


def probe_event() -> dict[str, Any]:
    member = f"probe-{uuid.uuid4().hex[:8]}"
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": SOURCE,
        "type": "cop.member.profile_updated.v1",
        "time": datetime.now(UTC).isoformat(),
        "partitionkey": member,
        "data": {"member_id": member, "name": "Pro Be", "email": f"{member}@example.com"},
    }


async def red(platform: Platform, service: str, dependency: str) -> dict[str, str] | None:
    """The service's failing readiness checks once they name the dependency (else None)."""
    failing = await platform.readiness(service)
    return failing if failing and dependency in failing else None


async def hold(platform: Platform, outage: Outage, seen: Seen, began: float) -> None:
    """While the dependency is away, probe `/ingest` and `/readyz`; give it back OUTAGE_S
    after it went."""
    async with httpx.AsyncClient(timeout=30) as http:
        seen.probe = await http.post(
            f"{platform.urls['events']}/ingest",
            json=probe_event(),
            headers={"Authorization": f"Bearer {platform.api_key}"},
        )
    reds = await asyncio.gather(
        *(
            eventually(
                partial(red, platform, service, outage.dependency),
                what=f"{service} /readyz naming {outage.dependency}",
                timeout_s=20,
            )
            for service in SERVICE_NAMES
        )
    )
    seen.red = dict(zip(SERVICE_NAMES, reds, strict=True))
    await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - began)))
    await asyncio.to_thread(outage.give_back)


async def stream_through(
    platforms: PlatformFactory, outage: Outage, *, seed: int, fault: str
) -> None:
    platform = await platforms(outage.dependency)
    ledger = Ledger()
    seen = Seen()
    holding: list[asyncio.Task[None]] = []

    async def fault_at(chunk: int) -> None:
        """The stream goes on once the dependency is away: into the outage."""
        if chunk == 3:
            await asyncio.to_thread(outage.take_away)
            holding.append(asyncio.create_task(hold(platform, outage, seen, time.monotonic())))

    stream = workload(EVENTS, seed=seed, namespace=platform.namespace)
    await Sender(platform, ledger).send(stream, between=fault_at)
    await asyncio.gather(*holding)

    assert ledger.refused["503"] > 0, "the stream never ran into the outage"
    probe = seen.probe
    assert probe is not None
    assert probe.status_code == 503, probe.text
    assert probe.headers["content-type"].startswith("application/problem+json")
    assert int(probe.headers["retry-after"]) > 0
    assert seen.red is not None
    assert all(seen.red.values()), seen.red
    for service in SERVICE_NAMES:
        await eventually(partial(platform.ready, service), what=f"{service} /readyz green")
    await settled(platform)
    count = await account(platform, ledger, fault)
    assert count.missing == 0
    assert count.duplicates == 0
    assert await dead_lettered(platform) == dict.fromkeys(SERVICE_NAMES, 0)


async def test_kafka_broker_restart_mid_stream(platforms: PlatformFactory) -> None:
    """kill -9 of the broker, restarted the same way after OUTAGE_S."""
    await stream_through(
        platforms, Outage("kafka", kill), seed=21, fault="Kafka broker kill -9 and restart"
    )


async def test_mongodb_server_down_mid_stream(platforms: PlatformFactory) -> None:
    """The MongoDB-protocol server stopped (SIGTERM: every connection dropped, new ones refused)
    and started again after OUTAGE_S.

    Not `kill -9`: the local stand-in, mongo-java-server on an H2 MVStore file, acknowledges a
    write before it is on disk (the store commits in the background about once a second) and a
    kill -9 loses what it acknowledged in that second — measured: 111 of 499 acknowledged
    inserts gone after a restart. A real MongoDB keeps them (journal; `MONGODB_JOURNAL=true`,
    `MONGODB_WRITE_CONCERN=majority` on a replica set), and the platform relies on that: it
    commits offsets once a write is acknowledged. Killing the stand-in would test its
    durability, not the platform's; a stop drops every connection exactly as a crash does, and
    keeps what was acknowledged."""
    await stream_through(
        platforms, Outage("mongodb", stop), seed=22, fault="MongoDB server stop and start"
    )


async def test_redis_kill_9_mid_stream(platforms: PlatformFactory) -> None:
    """kill -9 of Redis, restarted after OUTAGE_S (it reloads its append-only file). What it
    holds is advice or a cache (ingest rate windows, kudos reservations, leaderboards rebuilt
    from MongoDB, the notifier's delivery leases next to the delivery records in MongoDB)."""
    await stream_through(
        platforms, Outage("redis", kill), seed=23, fault="Redis kill -9 and restart"
    )
