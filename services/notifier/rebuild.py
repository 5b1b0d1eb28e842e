"""Rebuilding what the notifier knows from the topics (run by `copctl replay notifier`).

The projection is what the notifier knows of people, communities, sessions and artifacts
(`adapters/directory.PROJECTION`). Before the group is rewound, the end offset of every partition
is recorded (`replay_marks`): events up to there rebuild the projection and notify nobody. The
delivery log, the schedule, digests, preferences and channels are not a projection and are kept.
"""

from typing import Final

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.notifier.adapters.directory import PROJECTION
from services.notifier.adapters.replay_marks import ReplayMarks
from services.notifier.settings import NotifierSettings
from shared.events.topics import Topic
from shared.kafka import kafka_client_options, kafka_security
from shared.mongo import client_for, drop_collections

TOPICS: Final = (Topic.COMMUNITIES, Topic.SESSIONS, Topic.KNOWLEDGE, Topic.RECOGNITION)
"""What the service's consumer group reads, from the beginning, to rebuild the projection."""
COLLECTIONS: Final = PROJECTION
"""What the projection is made of, and all that a rebuild may drop."""


async def end_offsets(settings: NotifierSettings) -> dict[str, int]:
    topics = [settings.kafka_topic_prefix + t for t in TOPICS]
    options = kafka_client_options(kafka_security(settings))
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, **options)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [
        TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]
    ]
    async with AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, **options
    ) as consumer:
        ends = await consumer.end_offsets(partitions)
    return {f"{tp.topic}|{tp.partition}": end for tp, end in ends.items()}


async def prepare_rebuild(settings: NotifierSettings) -> list[str]:
    """With the service stopped: mark how far the topics go (nothing up to there notifies),
    then drop the projection. Returns the collections dropped."""
    client = client_for(settings, app_name="cop-notifier-rebuild")
    try:
        await ReplayMarks(client[settings.mongodb_database]).record(await end_offsets(settings))
    finally:
        await client.close()
    return await drop_collections(settings, COLLECTIONS, app_name="cop-notifier-rebuild")
