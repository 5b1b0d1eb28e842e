"""Small Kafka admin look-ups the operator commands share, and the brokers' TLS and SASL they
connect with."""

from aiokafka import TopicPartition
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
