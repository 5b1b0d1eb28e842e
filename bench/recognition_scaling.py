"""Recognition as stored kudos facts grow, and `POST /kudos` latency (`python -m bench --scaling`).

    python -m bench.recognition_scaling [--sizes 10000,200000] [--measured 3000] [--repeats 3]

The recognition app runs in this process with its own topics, consumer group and database, fed
through Kafka and queried through its HTTP API only. Before each size, `repeats` batches of
`measured` kudos are timed from their first send until the projection shows them all; the events
before them are filled untimed. Run alone it writes `bench-results/recognition_scaling.json`.
"""

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from bench.harness import BenchInfra, delete_topics, provide_infra, serving
from bench.report import OUT
from services.recognition.bootstrap import bootstrap
from services.recognition.settings import RecognitionSettings
from shared.events.catalog import KudosGiven
from shared.events.codec import KafkaRecord, decode, encode
from shared.events.envelope import new_event

COMMUNITIES = 8
MAX_RATIO = 2.0


def kudos_event(i: int, run: str = "") -> Any:
    """The i-th kudos of a run: 1,000 givers and 500 recipients in 8 communities, so at 200k
    kudos a giver has given 200 and a member received 400 (the judge counts 20 per giver and
    month; the rest are judged `allowance_exhausted`, which costs the same to apply)."""
    run = run or uuid.uuid4().hex[:6]
    return new_event(
        KudosGiven(
            kudos_id=f"k{i}-{run}",
            from_id=f"giver-{i % 1000}-{run}",
            to_ids=[f"member-{(i * 7) % 500}-{run}"],
            community_id=f"community-{i % COMMUNITIES}",
            message="Thanks for running the journal club",
            value_tag="knowledge_sharing",
        ),
        source="bench",
    )


def bench_codec(n: int = 20_000) -> dict[str, Any]:
    events = [kudos_event(i) for i in range(n)]
    began = time.perf_counter()
    records = [encode(e) for e in events]
    encoded = time.perf_counter() - began
    began = time.perf_counter()
    for record in records:
        decode(record.value)
    decoded = time.perf_counter() - began
    return {"events": n, "encode_per_s": round(n / encoded), "decode_per_s": round(n / decoded)}


class KudosFeed:
    """Kudos events for one namespace, produced to Kafka; remembers what it produced."""

    def __init__(self, infra: BenchInfra, namespace: str) -> None:
        self._infra, self._prefix = infra, f"{namespace}."
        self.run = uuid.uuid4().hex[:6]
        self.ids: list[str] = []
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> "KudosFeed":
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._infra.kafka_bootstrap_servers,
            acks="all",
            linger_ms=5,
            max_batch_size=256 * 1024,
        )
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._producer is not None
        await self._producer.stop()

    def records(self, n: int) -> tuple[list[KafkaRecord], dict[str, str]]:
        """The next `n` events, encoded, and the last kudos id of each partition key."""
        records, last = [], {}
        for i in range(len(self.ids), len(self.ids) + n):
            event = kudos_event(i, self.run)
            records.append(encode(event))
            last[event.partitionkey] = event.data["kudos_id"]
            self.ids.append(event.data["kudos_id"])
        return records, last

    async def produce(self, records: list[KafkaRecord]) -> None:
        assert self._producer is not None
        for record in records:
            await self._producer.send(
                self._prefix + record.topic,
                record.value,
                key=record.key,
                headers=[(k, v.encode()) for k, v in record.headers.items()],
            )
        await self._producer.flush()


async def applied(client: httpx.AsyncClient, last: dict[str, str], timeout_s: float) -> None:
    """Until the projection shows the judgement of the last kudos of every partition key (so of
    all before it): polled with `GET /kudos/{id}`, a read by `_id`."""
    pending = set(last.values())
    deadline = time.monotonic() + timeout_s
    while pending:
        for kudos_id in list(pending):
            response = await client.get(f"/kudos/{kudos_id}")
            if response.status_code == 200 and response.json()["status"] == "judged":
                pending.discard(kudos_id)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} partition keys not applied in {timeout_s:.0f}s")
        await asyncio.sleep(0.05)


async def query_latency(client: httpx.AsyncClient, ids: list[str], n: int) -> dict[str, float]:
    samples = []
    for kudos_id in random.Random(len(ids)).sample(ids, min(n, len(ids))):
        began = time.perf_counter()
        response = await client.get(f"/kudos/{kudos_id}")
        samples.append(time.perf_counter() - began)
        assert response.status_code == 200, response.text
    return {
        "p50_ms": _ms(statistics.median(samples)),
        "p95_ms": _ms(statistics.quantiles(samples, n=20)[18]),
    }


async def bench_scaling(
    infra: BenchInfra,
    sizes: list[int],
    measured: int = 3_000,
    repeats: int = 3,
    queries: int = 300,
) -> dict[str, Any]:
    """Recognition's projection rate and `GET /kudos/{id}` p95 as the stored kudos facts grow.

    Before each size, `repeats` batches of `measured` events are timed from their first send
    until the projection shows them all (the app consumes while they are produced, so this is
    the projection's rate whenever it is slower than the producer), and the query latency is
    sampled after each; the figures are the medians. The events before them are filled untimed,
    which also warms up the JIT-compiled servers before the first timed batch.
    """
    namespace = infra.namespace()
    settings = infra.settings(RecognitionSettings, namespace, kafka_topic_partitions=6)
    row: dict[str, Any] = {}
    async with (
        serving(bootstrap(settings), settings) as client,
        KudosFeed(infra, namespace) as feed,
    ):
        for size in sizes:
            fill = size - measured * repeats - len(feed.ids)
            if fill > 0:
                records, last = feed.records(fill)
                began = time.perf_counter()
                await feed.produce(records)
                await applied(client, last, timeout_s=max(120.0, fill / 200))
                row[f"filled to {size - measured * repeats:,} (untimed), s"] = round(
                    time.perf_counter() - began, 1
                )
            rates, p95s = [], []
            for _ in range(repeats):
                records, last = feed.records(measured)
                began = time.perf_counter()
                await feed.produce(records)
                await applied(client, last, timeout_s=max(120.0, measured / 200))
                rates.append(measured / (time.perf_counter() - began))
                p95s.append((await query_latency(client, feed.ids, queries))["p95_ms"])
            row[f"projection events/s at {size:,} stored"] = round(statistics.median(rates))
            row[f"GET /kudos/{{id}} p95_ms at {size:,} stored"] = statistics.median(p95s)
            row[f"runs at {size:,}: events/s; p95 ms"] = (
                ", ".join(str(round(r)) for r in rates) + "; " + ", ".join(map(str, p95s))
            )
    first, last_size = f"{sizes[0]:,}", f"{sizes[-1]:,}"
    rate_ratio = row[f"projection events/s at {first} stored"] / max(
        1, row[f"projection events/s at {last_size} stored"]
    )
    p95_ratio = row[f"GET /kudos/{{id}} p95_ms at {last_size} stored"] / max(
        0.001, row[f"GET /kudos/{{id}} p95_ms at {first} stored"]
    )
    row[f"events/s slowdown {first} -> {last_size}"] = f"{rate_ratio:.2f}x"
    row[f"p95 growth {first} -> {last_size}"] = f"{p95_ratio:.2f}x"
    row[f"within {MAX_RATIO:g}x"] = rate_ratio <= MAX_RATIO and p95_ratio <= MAX_RATIO
    return row


async def bench_give_kudos(infra: BenchInfra, n: int = 300) -> dict[str, Any]:
    """POST /kudos (policy, allowance check and reservation, publish with acks=all): latency."""
    namespace = infra.namespace()
    settings = infra.settings(RecognitionSettings, namespace, kudos_allowance=n + 1)
    latencies: list[float] = []
    applied_latencies: list[float] = []
    run = uuid.uuid4().hex[:6]  # allowances are kept per giver and month: fresh givers per run
    async with serving(bootstrap(settings), settings) as client:
        for i in range(n):
            body = _kudos_body(f"bench-giver-{run}", f"m{i % 20}")
            began = time.perf_counter()
            response = await client.post("/kudos", json=body)
            latencies.append(time.perf_counter() - began)
            assert response.status_code == 202, response.text
        for i in range(min(n, 50)):
            body = _kudos_body(f"bench-waiter-{run}", f"m{i % 20}")
            began = time.perf_counter()
            response = await client.post("/kudos?wait=true", json=body)
            applied_latencies.append(time.perf_counter() - began)
            assert response.json()["applied"], response.text
    return {
        "requests": n,
        "accepted_p50_ms": _ms(statistics.median(latencies)),
        "accepted_p95_ms": _ms(statistics.quantiles(latencies, n=20)[18]),
        "applied_requests": len(applied_latencies),
        "applied_p50_ms": _ms(statistics.median(applied_latencies)),
        "applied_p95_ms": _ms(statistics.quantiles(applied_latencies, n=20)[18]),
    }


def _kudos_body(giver: str, recipient: str) -> dict[str, Any]:
    return {
        "from_id": giver,
        "to_ids": [recipient],
        "community_id": "c1",
        "message": "thanks",
        "value_tag": "quality",
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,200000", help="stored kudos facts")
    parser.add_argument("--measured", type=int, default=3_000, help="events per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per size (median)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with provide_infra() as infra:

        async def run() -> dict[str, Any]:
            try:
                return {
                    "scaling": await bench_scaling(
                        infra, sizes, measured=args.measured, repeats=args.repeats
                    ),
                    "POST /kudos": await bench_give_kudos(infra),
                }
            finally:
                await delete_topics(infra)

        result = asyncio.run(run())
    OUT.mkdir(exist_ok=True)
    (OUT / "recognition_scaling.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
