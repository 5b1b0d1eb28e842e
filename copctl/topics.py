"""Small Kafka admin look-ups the operator commands share."""

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def partitions_of(bootstrap: str, topics: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
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
