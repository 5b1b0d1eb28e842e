"""Plain aiokafka producers and consumers, the way another system would talk to the bus."""

import json
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from shared.events.codec import encode
from shared.events.envelope import CloudEvent


async def produce_raw(
    bootstrap: str, topic: str, value: bytes, *, key: bytes | None, headers: dict[str, str]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()]
        )
    finally:
        await producer.stop()


async def produce_event(bootstrap: str, prefix: str, event: CloudEvent) -> None:
    record = encode(event)
    await produce_raw(
        bootstrap, prefix + record.topic, record.value, key=record.key, headers=record.headers
    )


async def read_all(
    bootstrap: str, topic: str, *, expect: int, timeout_s: float = 20.0
) -> list[ConsumerRecord[Any, Any]]:
    """Read a topic from the beginning until `expect` records arrived or the deadline passed."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def assert_nothing_on(bootstrap: str, topic: str, *, wait_s: float = 2.0) -> None:
    """No record arrives on `topic` (read from its beginning) within `wait_s` seconds."""
    found = await read_all(bootstrap, topic, expect=1, timeout_s=wait_s)
    assert found == [], f"expected nothing on {topic}, found {found!r}"


async def published_count(bootstrap: str, topic: str) -> int:
    """How many records a topic holds: the sum of its partitions' end offsets (a producer
    without transactions writes no markers, so each offset is one record)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()  # without a group, it is assigned every partition of the topic
    try:
        partitions = sorted(consumer.assignment())
        ends = await consumer.end_offsets(partitions) if partitions else {}
        return sum(ends.values())
    finally:
        await consumer.stop()


def body(record: ConsumerRecord[Any, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(record.value)
    return data


def headers(record: ConsumerRecord[Any, Any]) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


async def produce_events(bootstrap: str, prefix: str, events: list[CloudEvent]) -> None:
    """Send events in order through one producer (each to its catalog topic and key)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            record = encode(event)
            await producer.send_and_wait(
                prefix + record.topic,
                record.value,
                key=record.key,
                headers=[(k, v.encode()) for k, v in record.headers.items()],
            )
    finally:
        await producer.stop()
