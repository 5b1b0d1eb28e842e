"""`POST /ingest` on the events service: single events, batches of 100 and batches of 1,000 (one
partition key, and the mixed history's many keys), accepted events/s.

The events service runs as its own process (own topics, groups and database); a source system is
registered through its admin API (`POST /sources`, a rate limit of 1,000,000 events a minute so
the limit is never what is measured) and its key used as a real sender would. The events are the
mixed history's, each with an id of its own per run (a re-sent id would be a duplicate, not an
acceptance), sent by `concurrency` clients at once over HTTP/1.1 keep-alive connections. A batch of
1,000 is sent alone: 1,000 members joining one community (one partition key, so the gateway keeps
their order), then 1,000 events of the mixed history (many keys).
"""

import asyncio
import statistics
import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from bench.harness import BenchInfra
from bench.projections import CONSUMERS, ServiceProcesses
from bench.report import figure, percentile, row
from bench.targets import TARGETS
from shared.auth import issue_token
from shared.events.catalog import CATALOG, MemberJoined
from shared.events.envelope import new_event
from shared.kafka import ensure_topics

SOURCE = "benchsource"
SINGLE_CONCURRENCY = 16
BATCH_CONCURRENCY = 4
BATCH = 100
BIG_BATCH = 1_000


def _payloads(events: Sequence[Any], run: str) -> list[dict[str, Any]]:
    out = []
    for i, event in enumerate(events):
        body = event.model_dump(mode="json", exclude_none=True)
        body["id"] = f"{run}-{i}"
        body["source"] = f"{SOURCE}/{event.source}"
        out.append(body)
    return out


def _one_key(run: str, n: int) -> list[dict[str, Any]]:
    """`n` members joining one community: one partition key."""
    community = f"bench-{run}"
    return [
        new_event(
            MemberJoined(community_id=community, member_id=f"m-{i}"),
            source=f"{SOURCE}/directory",
            event_id=f"{run}-{i}",
        ).model_dump(mode="json", exclude_none=True)
        for i in range(n)
    ]


async def _post_all(
    client: httpx.AsyncClient,
    bodies: Sequence[Any],
    headers: dict[str, str],
    concurrency: int,
    expect: int,
) -> tuple[float, list[float], int]:
    """Wall seconds, each request's seconds, and the events accepted."""
    queue = list(reversed(bodies))
    latencies: list[float] = []
    accepted = 0

    async def worker() -> None:
        nonlocal accepted
        while queue:
            body = queue.pop()
            began = time.perf_counter()
            response = await client.post("/ingest", json=body, headers=headers)
            latencies.append(time.perf_counter() - began)
            if response.status_code not in (200, 202):
                raise RuntimeError(f"/ingest answered {response.status_code}: {response.text}")
            answer = response.json()
            accepted += answer.get("accepted", 1 if answer.get("status") == "accepted" else 0)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - began
    if accepted != expect:
        raise RuntimeError(f"{accepted} of {expect} events accepted")
    return wall, latencies, accepted


async def bench_ingest(
    infra: BenchInfra, events: Sequence[Any], *, singles: int, batches: int, repeats: int
) -> dict[str, Any]:
    consumer = CONSUMERS["events"]
    namespace = infra.namespace()
    settings = infra.settings(consumer.settings_cls, namespace)
    await ensure_topics(
        infra.kafka_bootstrap_servers,
        partitions=settings.kafka_topic_partitions,
        topic_prefix=settings.kafka_topic_prefix,
    )
    processes = ServiceProcesses(infra, consumer, settings, {})
    single_rates, single_p50, single_p99 = [], [], []
    batch_rates, batch_p50, batch_p99 = [], [], []
    one_key_rates: list[float] = []
    many_keys_rates: list[float] = []
    try:
        await asyncio.to_thread(processes.start, 1)
        admin = issue_token(settings.auth_token_secret, "bench-ops", scopes=("admin",))
        async with httpx.AsyncClient(
            base_url=processes.urls[0],
            timeout=60,
            limits=httpx.Limits(max_connections=SINGLE_CONCURRENCY),
        ) as client:
            response = await client.post(
                "/sources",
                json={
                    "name": SOURCE,
                    "types": sorted(CATALOG),
                    "rate_limit_per_minute": 1_000_000,
                },
                headers={"Authorization": f"Bearer {admin}"},
            )
            response.raise_for_status()
            headers = {"Authorization": f"Bearer {response.json()['api_key']}"}
            # warm-up: connections, the key's cache, the producer
            await _post_all(client, _payloads(events[:50], "warm"), headers, 4, 50)
            for _ in range(repeats):
                run = uuid.uuid4().hex[:8]
                bodies = _payloads(events[:singles], run)
                wall, lat, n = await _post_all(client, bodies, headers, SINGLE_CONCURRENCY, singles)
                single_rates.append(n / wall)
                single_p50.append(percentile(lat, 50) * 1000)
                single_p99.append(percentile(lat, 99) * 1000)
                payloads = _payloads(events[: batches * BATCH], run + "b")
                chunks = [payloads[i : i + BATCH] for i in range(0, len(payloads), BATCH)]
                wall, lat, n = await _post_all(
                    client, chunks, headers, BATCH_CONCURRENCY, len(payloads)
                )
                batch_rates.append(n / wall)
                batch_p50.append(percentile(lat, 50) * 1000)
                batch_p99.append(percentile(lat, 99) * 1000)
                big = min(BIG_BATCH, len(events))
                wall, _, n = await _post_all(client, [_one_key(run, big)], headers, 1, big)
                one_key_rates.append(n / wall)
                mixed = _payloads(events[:big], run + "m")
                wall, _, n = await _post_all(client, [mixed], headers, 1, big)
                many_keys_rates.append(n / wall)
    finally:
        await asyncio.to_thread(processes.stop)
    return {
        "rows": [
            row("single events per run", singles, f"{SINGLE_CONCURRENCY} concurrent clients"),
            figure("single events accepted", single_rates, "events/s"),
            figure("single event latency p50", single_p50, "ms", digits=1),
            figure("single event latency p99", single_p99, "ms", digits=1),
            row("batches of 100 per run", batches, f"{BATCH_CONCURRENCY} concurrent clients"),
            figure("batched events accepted", batch_rates, "events/s"),
            figure("batch of 100 latency p50", batch_p50, "ms", digits=1),
            figure("batch of 100 latency p99", batch_p99, "ms", digits=1),
            figure("batch of 1,000 of one key, alone", one_key_rates, "events/s"),
            figure("batch of 1,000 of many keys, alone", many_keys_rates, "events/s"),
        ],
        "goals": [
            TARGETS["ingest_batches"].judge(
                statistics.median(batch_rates),
                detail=f"{BATCH_CONCURRENCY} clients",
                why=f"a batch of 100 took {statistics.median(batch_p50):.0f} ms (p50), "
                f"{statistics.median(batch_p99):.0f} ms (p99)",
            ),
            TARGETS["ingest_single_p99"].judge(
                statistics.median(single_p99),
                detail=f"{SINGLE_CONCURRENCY} clients",
                why=f"{statistics.median(single_rates):.0f} single events/s accepted, p50 "
                f"{statistics.median(single_p50):.0f} ms",
            ),
        ],
        "single_per_s": statistics.median(single_rates),
        "batch_per_s": statistics.median(batch_rates),
        "one_key_batch_per_s": statistics.median(one_key_rates),
        "many_keys_batch_per_s": statistics.median(many_keys_rates),
    }
