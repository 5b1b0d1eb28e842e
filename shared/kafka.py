"""Kafka set-up shared by the services: the broker factory, publishing and topic creation."""

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from typing import Any, Final, Protocol

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from opentelemetry.trace import TracerProvider
from pydantic import BaseModel

from shared.events.codec import KafkaRecord, encode
from shared.events.envelope import CloudEvent, new_event
from shared.events.topics import all_topics
from shared.settings import ServiceSettings
from shared.together import await_all

log = logging.getLogger(__name__)

_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def kafka_security(settings: ServiceSettings) -> BaseSecurity | None:
    """TLS and SASL as the settings say (`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`,
    `KAFKA_SSL_*`); None for a plaintext listener."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    use_ssl = protocol in ("SSL", "SASL_SSL")
    ssl_context = None
    if use_ssl:
        ssl_context = create_ssl_context(
            cafile=settings.kafka_ssl_cafile or None,
            certfile=settings.kafka_ssl_certfile or None,
            keyfile=settings.kafka_ssl_keyfile or None,
        )
        ssl_context.check_hostname = settings.kafka_ssl_check_hostname
    if protocol == "SSL":
        return BaseSecurity(ssl_context=ssl_context, use_ssl=True)
    return _SASL[settings.kafka_sasl_mechanism](
        settings.kafka_sasl_username,
        settings.kafka_sasl_password.get_secret_value(),
        ssl_context=ssl_context,
        use_ssl=use_ssl,
    )


def kafka_client_options(security: BaseSecurity | None) -> dict[str, Any]:
    """The same security as keyword arguments of aiokafka's own clients (admin, consumers)."""
    return parse_security(security)


def make_broker(
    bootstrap_servers: str,
    *,
    client_id: str,
    tracer_provider: TracerProvider | None = None,
    security: BaseSecurity | None = None,
) -> KafkaBroker:
    """A broker whose producer waits for all in-sync replicas and never writes a duplicate."""
    middlewares = (
        [KafkaTelemetryMiddleware(tracer_provider=tracer_provider)] if tracer_provider else []
    )
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        security=security,
        middlewares=middlewares,
        logger=logging.getLogger(f"faststream.{client_id}"),
    )


class Emitter(Protocol):
    """What a command needs of the bus: publish a new event of some data. `EventBus` is the
    real one; a unit test may hand a command an in-memory one."""

    async def emit(self, data: BaseModel, *, source: str) -> CloudEvent: ...


class EventBus:
    """Publishing to the contract's topics, optionally inside a namespace.

    `topic_prefix` puts every topic of one deployment under a prefix (e.g. `staging.`), so that
    several environments, or an isolated test run, can share one Kafka cluster.
    """

    def __init__(self, broker: KafkaBroker, *, topic_prefix: str = "") -> None:
        self.broker = broker
        self.topic_prefix = topic_prefix

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    async def publish_record(self, record: KafkaRecord) -> None:
        await self.broker.publish(
            record.value, self.topic(record.topic), key=record.key, headers=record.headers
        )

    async def send_record(self, record: KafkaRecord) -> "asyncio.Future[Any]":
        """Hand a record to the producer and return its acknowledgement without waiting for
        it. Records handed over one after another keep their order on their partition (the
        idempotent producer), and go to the broker together instead of one round trip each."""
        return await self.broker.publish(
            record.value,
            self.topic(record.topic),
            key=record.key,
            headers=record.headers,
            no_confirm=True,
        )

    async def publish(self, event: CloudEvent) -> str:
        """Publish one event to its catalog topic, keyed by its partition key; returns its id."""
        await self.publish_record(encode(event))
        return event.id

    async def emit(self, data: BaseModel, *, source: str) -> CloudEvent:
        """A new event of `data` from `source`, published; returns the event."""
        event = new_event(data, source=source)
        await self.publish(event)
        return event

    async def publish_all(self, publishing: Iterable[Awaitable[object]]) -> None:
        """Await several publishes at once, so that the producer sends them in shared batches
        (one broker round trip for many) instead of one acknowledgement after another. Each
        record still keeps its own key and so its partition's order; raises the first failure
        once all have finished."""
        await await_all(publishing)


_NOT_AUTHORIZED: Final = frozenset(
    {TopicAuthorizationFailedError.errno, ClusterAuthorizationFailedError.errno}
)


async def ensure_topics(
    bootstrap_servers: str,
    *,
    partitions: int = 6,
    replication_factor: int = 1,
    topic_prefix: str = "",
    security: BaseSecurity | None = None,
) -> list[str]:
    """Create every topic of the contract that is missing; returns the ones created.

    Every topic keeps its data for ever (retention -1): projections are rebuilt from the domain
    topics, and dead letters and rejected events wait until someone looks at them.

    It asks the broker to create them all and takes "already exists" as done, rather than
    listing the cluster's topics first: that list grows with every other application's topics
    (a broker shared by many test namespaces holds thousands) and each start would read it
    whole. A service that may not create topics (the broker's ACLs) starts when they exist.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="cop-topics",
        **kafka_client_options(security),
    )
    await admin.start()
    try:
        wanted = [
            NewTopic(
                name=topic_prefix + name,
                num_partitions=partitions,
                replication_factor=replication_factor,
                topic_configs={"retention.ms": "-1"},
            )
            for name in all_topics()
        ]
        response = await admin.create_topics(wanted)
        created, refused = [], {}
        for name, code, *_ in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:
                refused[name] = code
        not_allowed = [n for n, code in refused.items() if code in _NOT_AUTHORIZED]
        if not_allowed:  # fine where they exist; without the right to create, none is auto-created
            described = await admin.describe_topics(not_allowed)
            for found in described:
                if found["error_code"] == 0:
                    del refused[found["topic"]]
        if refused:
            raise RuntimeError(
                "could not create topics: "
                + ", ".join(f"{n} (error code {code})" for n, code in sorted(refused.items()))
            )
        return created
    finally:
        await admin.close()
