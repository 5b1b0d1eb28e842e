"""Small Kafka admin look-ups the operator commands share, and the brokers' TLS and SASL they
connect with."""

from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.security import BaseSecurity

from shared.kafka import kafka_client_options, kafka_security
from shared.settings import ServiceSettings


def operator_security() -> BaseSecurity | None:
    """TLS and SASL towards the brokers from the environment variables the services read
    (`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`, `KAFKA_SSL_*`), for a command given only the
    bootstrap servers."""
    return kafka_security(ServiceSettings())


async def partitions_of(
    bootstrap: str, topics: list[str], *, security: BaseSecurity | None = None
) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_client_options(security))
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], p["partition"])
        for topic in described
        for p in sorted(topic["partitions"], key=lambda p: p["partition"])
    ]


async def read_from_start(
    bootstrap: str, topics: list[str], *, security: BaseSecurity | None = None
) -> list[ConsumerRecord[Any, Any]]:
    """Every record of the topics as they are now, from the beginning, without joining a
    consumer group (nothing is committed)."""
    partitions = await partitions_of(bootstrap, topics, security=security)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **kafka_client_options(security)
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[Any, Any]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()
