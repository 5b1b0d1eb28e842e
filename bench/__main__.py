"""Throughput and latency of the event contract and the kudos path on the real infrastructure."""

import asyncio
import json
import os
import platform
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.recognition.bootstrap import bootstrap
from services.recognition.settings import RecognitionSettings
from shared.events.catalog import KudosGiven
from shared.events.codec import decode, encode
from shared.events.envelope import new_event
from tests.infra import provide_infra
from tests.integration.apps import drop_database, serving, settings_for
from tests.namespaces import delete_tracked_topics

OUT = Path(__file__).resolve().parent.parent / "bench-results"


def kudos_event(i: int, giver: str) -> Any:
    return new_event(
        KudosGiven(
            kudos_id=f"k{i}-{uuid.uuid4().hex[:6]}",
            from_id=giver,
            to_ids=[f"member-{i % 50}"],
            community_id=f"community-{i % 8}",
            message="Thanks for running the journal club",
            value_tag="knowledge_sharing",
        ),
        source="bench",
    )


def bench_codec(n: int = 20_000) -> dict[str, Any]:
    events = [kudos_event(i, "giver") for i in range(n)]
    began = time.perf_counter()
    records = [encode(e) for e in events]
    encoded = time.perf_counter() - began
    began = time.perf_counter()
    for record in records:
        decode(record.value)
    decoded = time.perf_counter() - began
    return {"events": n, "encode_per_s": round(n / encoded), "decode_per_s": round(n / decoded)}


async def bench_projection(infra: Any, n: int = 20_000) -> dict[str, Any]:
    """Events produced up front, then time until recognition's projection has applied them all."""
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    settings = settings_for(RecognitionSettings, infra, namespace, kafka_topic_partitions=6)
    giver = f"giver-{uuid.uuid4().hex[:6]}"
    from aiokafka import AIOKafkaProducer

    from shared.kafka import ensure_topics

    await ensure_topics(infra.kafka_bootstrap_servers, partitions=6, topic_prefix=f"{namespace}.")
    producer = AIOKafkaProducer(
        bootstrap_servers=infra.kafka_bootstrap_servers, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        for i in range(n):
            record = encode(kudos_event(i, giver))
            await producer.send(
                f"{namespace}.{record.topic}",
                record.value,
                key=record.key,
                headers=[(k, v.encode()) for k, v in record.headers.items()],
            )
        await producer.flush()
    finally:
        await producer.stop()
    began = time.perf_counter()
    async with serving(bootstrap(settings), "bench") as client:
        while True:
            given = (await client.get(f"/members/{giver}/kudos")).json()["given"]
            if given >= n:
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - began
    await drop_database(infra, settings.mongodb_database)
    return {"events": n, "seconds": round(elapsed, 2), "events_per_s": round(n / elapsed)}


async def bench_give_kudos(infra: Any, n: int = 300) -> dict[str, Any]:
    """POST /kudos (policy, Redis allowance, publish with acks=all): latency per request."""
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    settings = settings_for(RecognitionSettings, infra, namespace, kudos_allowance_per_week=n + 1)
    latencies: list[float] = []
    applied: list[float] = []
    run = uuid.uuid4().hex[:6]  # allowances live in Redis for a week: fresh givers per run
    async with serving(bootstrap(settings), "bench") as client:
        for i in range(n):
            body = {
                "from_id": f"bench-giver-{run}", "to_ids": [f"m{i % 20}"], "community_id": "c1",
                "message": "thanks", "value_tag": "quality",
            }  # fmt: skip
            began = time.perf_counter()
            response = await client.post("/kudos", json=body)
            latencies.append(time.perf_counter() - began)
            assert response.status_code == 202, response.text
        for i in range(min(n, 50)):
            body = {
                "from_id": f"bench-waiter-{run}", "to_ids": [f"m{i % 20}"], "community_id": "c1",
                "message": "thanks", "value_tag": "quality",
            }  # fmt: skip
            began = time.perf_counter()
            response = await client.post("/kudos?wait=true", json=body)
            applied.append(time.perf_counter() - began)
            assert response.json()["applied"], response.text
    await drop_database(infra, settings.mongodb_database)
    return {
        "requests": n,
        "accepted_p50_ms": _ms(statistics.median(latencies)),
        "accepted_p95_ms": _ms(statistics.quantiles(latencies, n=20)[18]),
        "applied_requests": len(applied),
        "applied_p50_ms": _ms(statistics.median(applied)),
        "applied_p95_ms": _ms(statistics.quantiles(applied, n=20)[18]),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def write(results: dict[str, Any]) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# CoP Platform benchmarks", "", f"{results['when']} on {results['machine']}", ""]
    lines += [f"Infrastructure: {results['infra']}", "", "| benchmark | metric | value |"]
    lines.append("|---|---|---|")
    for name, metrics in results["benchmarks"].items():
        lines += [f"| {name} | {k} | {v} |" for k, v in metrics.items()]
    (OUT / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


async def run_all(infra: Any) -> dict[str, Any]:
    return {
        "codec (encode/decode CloudEvent)": bench_codec(),
        "recognition projection catch-up": await bench_projection(infra),
        "POST /kudos": await bench_give_kudos(infra),
    }


def main() -> None:
    with provide_infra() as infra:
        benchmarks = asyncio.run(run_all(infra))
        delete_tracked_topics(infra.kafka_bootstrap_servers)
        write(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}",
                "infra": infra.origin,
                "benchmarks": benchmarks,
            }
        )


if __name__ == "__main__":
    main()
