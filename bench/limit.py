"""The limit no service can pass: raw aiokafka produce and consume of CloudEvent-sized records.

A bench-only topic (6 partitions, like the domain topics) gets the encoded CloudEvents of the
mixed history, with their keys and headers, from an `AIOKafkaProducer` with `acks=all` and
idempotence (what the services use), sent without waiting for each; then an `AIOKafkaConsumer`
without a group reads them back from the beginning in batches, doing nothing with them. Each run
produces a fresh copy and reads it; the figures are medians of the runs.
"""

import statistics
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.harness import BenchInfra, send_records
from bench.report import figure, row
from shared.events.codec import KafkaRecord

PARTITIONS = 6


async def _create(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()


async def produce_raw(bootstrap: str, topic: str, records: Sequence[KafkaRecord]) -> float:
    return await send_records(bootstrap, records, lambda _: topic, max_batch_size=512 * 1024)


async def consume_raw(bootstrap: str, topic: str, n: int) -> float:
    """Seconds to read the first `n` records of the topic (from the consumer's start)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        began = time.perf_counter()
        seen = 0
        deadline = began + 300
        while seen < n and time.perf_counter() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            seen += sum(len(b) for b in batches.values())
        if seen < n:
            raise TimeoutError(f"read {seen} of {n} records")
        return time.perf_counter() - began
    finally:
        await consumer.stop()


async def bench_limit(
    infra: BenchInfra, records: Sequence[KafkaRecord], *, repeats: int
) -> dict[str, Any]:
    namespace = infra.namespace()
    n = len(records)
    produce_rates, consume_rates = [], []
    for run in range(repeats):
        topic = f"{namespace}.limit{run}"
        await _create(infra.kafka_bootstrap_servers, topic)
        produce_rates.append(n / await produce_raw(infra.kafka_bootstrap_servers, topic, records))
        consume_rates.append(n / await consume_raw(infra.kafka_bootstrap_servers, topic, n))
    size = statistics.mean(len(r.value) for r in records)
    return {
        "rows": [
            row("records per run", n),
            row("record value size, mean", round(size), "bytes"),
            figure("raw produce (acks=all, idempotent)", produce_rates, "events/s"),
            figure("raw consume", consume_rates, "events/s"),
        ],
        "produce_per_s": statistics.median(produce_rates),
        "consume_per_s": statistics.median(consume_rates),
        "notes": [
            f"{PARTITIONS} partitions; the producer sends without awaiting each record "
            "(linger 5 ms, 512 KiB batches); the consumer has no group and only counts."
        ],
    }
