"""Rebuilding a service's projection from the topics (`copctl replay SERVICE`).

With the service stopped: its rebuildable collections are dropped and its consumer group is put
back to the beginning of the topics it consumes. When the service starts again it applies every
event anew. State that is not a projection (the events service's registered sources and inbound
ledger, the notifier's delivery log, recognition's allowances in Redis) is kept, so nothing is
sent twice and no API key is lost.
"""

from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from copctl.topics import partitions_of
from services.events.adapters.projection import APPLIED_EVENTS, PROJECTION_COLLECTIONS
from shared.events.topics import Topic
from shared.mongo import make_client
from shared.settings import ServiceSettings


@dataclass(frozen=True)
class Rebuild:
    topics: tuple[str, ...]
    collections: tuple[str, ...]


REBUILDS: dict[str, Rebuild] = {
    "events": Rebuild(
        (Topic.COMMUNITIES, Topic.SESSIONS), (*PROJECTION_COLLECTIONS, APPLIED_EVENTS)
    ),
    "recognition": Rebuild((Topic.RECOGNITION,), ("kudos",)),
    "notifier": Rebuild((Topic.COMMUNITIES, Topic.RECOGNITION), ("profiles",)),
}


class ReplayRefused(RuntimeError):
    pass


async def _group_state(bootstrap: str, group: str) -> tuple[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    described: Any = response.to_object()["groups"][0]
    return str(described["state"]), len(described["members"])


async def rewind_group(bootstrap: str, group: str, topics: list[str]) -> int:
    """Commit the earliest offset of every partition for the (inactive) group."""
    partitions = await partitions_of(bootstrap, topics)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        beginnings = await consumer.beginning_offsets(partitions)
        await consumer.commit({tp: beginnings[tp] for tp in partitions})
        return len(partitions)
    finally:
        await consumer.stop()


async def replay(service: str, settings: ServiceSettings) -> dict[str, Any]:
    rebuild = REBUILDS.get(service)
    if rebuild is None:
        raise ReplayRefused(f"{service} keeps no projection to rebuild")
    group = settings.kafka_consumer_group or f"cop-{service}"
    state, members = await _group_state(settings.kafka_bootstrap_servers, group)
    if members:
        raise ReplayRefused(
            f"{group} has {members} running consumer(s) ({state}): stop {service} first"
        )
    client = make_client(settings.mongodb_uri, app_name="copctl-replay")
    try:
        db = client[settings.mongodb_database]
        for name in rebuild.collections:
            await db[name].drop()
    finally:
        await client.close()
    topics = [settings.kafka_topic_prefix + str(t) for t in rebuild.topics]
    partitions = await rewind_group(settings.kafka_bootstrap_servers, group, topics)
    return {"group": group, "partitions": partitions, "dropped": list(rebuild.collections)}
