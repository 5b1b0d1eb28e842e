"""Rebuilding a service's projection from the topics (`copctl replay SERVICE`).

With the service stopped: the service drops its projection (its own `rebuild.prepare_rebuild`,
which knows which collections that is) and copctl puts its consumer group back to the beginning
of the topics the service declares (`rebuild.TOPICS`). When the service starts again it applies
every event anew. State that is not a projection (the events service's registered sources and
inbound ledger, the notifier's delivery log, recognition's judgements, badges and alerts) is the
service's to keep, so nothing is sent twice and no API key is lost.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.security import BaseSecurity

from copctl.topics import partitions_of
from services.events import rebuild as events_rebuild
from services.events.settings import EventsSettings
from services.impact import rebuild as impact_rebuild
from services.impact.settings import ImpactSettings
from services.knowledge import rebuild as knowledge_rebuild
from services.knowledge.settings import KnowledgeSettings
from services.notifier import rebuild as notifier_rebuild
from services.notifier.settings import NotifierSettings
from services.recognition import rebuild as recognition_rebuild
from services.recognition.settings import RecognitionSettings
from shared.events.topics import Topic
from shared.kafka import kafka_client_options, kafka_security
from shared.settings import ServiceSettings


@dataclass(frozen=True)
class Rebuild:
    """What copctl needs to know of a service that keeps a projection; the service declares it."""

    settings: type[ServiceSettings]
    topics: tuple[Topic, ...]
    prepare: Callable[[Any], Awaitable[list[str]]]


REBUILDS: dict[str, Rebuild] = {
    "events": Rebuild(EventsSettings, events_rebuild.TOPICS, events_rebuild.prepare_rebuild),
    "knowledge": Rebuild(
        KnowledgeSettings, knowledge_rebuild.TOPICS, knowledge_rebuild.prepare_rebuild
    ),
    "recognition": Rebuild(
        RecognitionSettings, recognition_rebuild.TOPICS, recognition_rebuild.prepare_rebuild
    ),
    "notifier": Rebuild(
        NotifierSettings, notifier_rebuild.TOPICS, notifier_rebuild.prepare_rebuild
    ),
    "impact": Rebuild(ImpactSettings, impact_rebuild.TOPICS, impact_rebuild.prepare_rebuild),
}


class ReplayRefused(RuntimeError):
    pass


async def _group_state(
    bootstrap: str, group: str, *, security: BaseSecurity | None = None
) -> tuple[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_client_options(security))
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    described: Any = response.to_object()["groups"][0]
    return str(described["state"]), len(described["members"])


async def rewind_group(
    bootstrap: str, group: str, topics: list[str], *, security: BaseSecurity | None = None
) -> int:
    """Commit the earliest offset of every partition for the (inactive) group."""
    partitions = await partitions_of(bootstrap, topics, security=security)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        **kafka_client_options(security),
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
    bootstrap, security = settings.kafka_bootstrap_servers, kafka_security(settings)
    state, members = await _group_state(bootstrap, group, security=security)
    if members:
        raise ReplayRefused(
            f"{group} has {members} running consumer(s) ({state}): stop {service} first "
            f"(local stack: `copctl dev stop {service}`)"
        )
    # Rewound first: if that fails, the projection is still whole and matches its offsets.
    topics = [settings.kafka_topic_prefix + str(t) for t in rebuild.topics]
    partitions = await rewind_group(bootstrap, group, topics, security=security)
    dropped = await rebuild.prepare(settings)
    return {"group": group, "partitions": partitions, "dropped": dropped}
