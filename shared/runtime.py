"""The plumbing every service process has: telemetry, Kafka broker, MongoDB, Redis, FastAPI app.

Each service's composition root builds one `Runtime` from its settings and hands it to
`create_app`, together with its routers and consumers.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline
from faststream.kafka import KafkaBroker
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from shared.body_limit import BodySizeLimit
from shared.consumer import (
    ConsumedEvent,
    ConsumedRecord,
    EventConsumer,
    decode_event,
    raw_record,
)
from shared.events.topics import dlq_topic
from shared.http import (
    add_routes,
    health_router,
    install_problem_handlers,
    log_requests,
    metrics_router,
)
from shared.kafka import EventBus, ensure_topics, kafka_security, make_broker
from shared.kafka_tracing import KafkaTracing
from shared.kafka_watch import KafkaWatch
from shared.logs import configure_logging, secrets_of
from shared.mongo import make_client, mongo_options
from shared.settings import ServiceSettings
from shared.telemetry import setup_telemetry, shutdown_telemetry

Hook = Callable[[], Awaitable[Any]]


@dataclass
class Runtime:
    settings: ServiceSettings
    tracer_provider: TracerProvider
    bus: EventBus
    mongo: AsyncMongoClient[dict[str, Any]]
    redis: Redis
    # consumer group -> its topics (with the bus's prefix), for the lag gauges
    groups: dict[str, list[str]] = field(default_factory=dict)

    @property
    def db(self) -> AsyncDatabase[dict[str, Any]]:
        return self.mongo[self.settings.mongodb_database]

    @property
    def tracer(self) -> trace.Tracer:
        return self.tracer_provider.get_tracer(f"cop.{self.settings.service_name}")

    @property
    def broker(self) -> KafkaBroker:
        return self.bus.broker

    def _consumer(self, handler: Callable[[list[Any]], Awaitable[None]], **kw: Any) -> Any:
        return EventConsumer(
            self.bus,
            service=self.settings.service_name,
            handler=handler,
            max_retries=self.settings.consumer_max_retries,
            backoff_s=self.settings.consumer_retry_backoff_ms / 1000,
            tracer=self.tracer,
            **kw,
        )

    @property
    def consumer_group(self) -> str:
        return self.settings.kafka_consumer_group or f"cop-{self.settings.service_name}"

    def subscribe(
        self,
        handler: Callable[[list[ConsumedEvent]], Awaitable[None]],
        *topics: str,
        max_records: int = 500,
        group_suffix: str | None = None,
    ) -> None:
        """Decoded catalog events from some topics: the service's projection in its own group,
        or, with `group_suffix`, another consumer of the service in a group of its own."""
        consumer: EventConsumer[ConsumedEvent] = self._consumer(handler, decoder=decode_event)
        group = f"{self.consumer_group}-{group_suffix}" if group_suffix else self.consumer_group
        consumer.subscribe(*topics, group_id=group, max_records=max_records)
        self.groups[group] = [self.bus.topic(t) for t in topics]

    def subscribe_records(
        self,
        handler: Callable[[list[ConsumedRecord]], Awaitable[None]],
        *topics: str,
        group_suffix: str,
    ) -> None:
        """An entrypoint that judges raw records itself (the inbound gateway), same policy."""
        consumer: EventConsumer[ConsumedRecord] = self._consumer(handler, decoder=raw_record)
        group = f"{self.consumer_group}-{group_suffix}"
        consumer.subscribe(*topics, group_id=group)
        self.groups[group] = [self.bus.topic(t) for t in topics]

    async def kafka_ready(self) -> bool:
        """The broker describes this service's dead-letter topic within 1.5 s. (FastStream's
        `ping` asks for every topic of the cluster: a list that grows with every application
        on the broker, read whole at every probe.)"""
        own = self.bus.topic(dlq_topic(self.settings.service_name))
        try:
            async with asyncio.timeout(1.5):
                described = await self.broker.config.admin_client.describe_topics([own])
        except Exception:  # not connected, unreachable, or too slow: not ready, whatever the cause
            return False
        return bool(described) and described[0]["error_code"] == 0

    async def mongo_ready(self) -> object:
        """A read from the service's own database: a server can answer `ping` while a
        database it serves hangs."""
        return await self.db["readiness"].find_one({"_id": "probe"}) or True

    async def redis_ready(self) -> object:
        return await self.redis.ping()


def build_runtime(settings: ServiceSettings) -> Runtime:
    name = f"cop-{settings.service_name}"
    configure_logging(name, settings.log_level, secrets_of(settings))
    provider = setup_telemetry(name)  # before the MongoDB client, so its commands are traced
    broker = make_broker(
        settings.kafka_bootstrap_servers, client_id=name, security=kafka_security(settings)
    )
    broker.add_middleware(KafkaTracing(provider, client_id=name))
    return Runtime(
        settings=settings,
        tracer_provider=provider,
        bus=EventBus(broker, topic_prefix=settings.kafka_topic_prefix),
        mongo=make_client(settings.mongodb_uri, app_name=name, **mongo_options(settings)),
        redis=Redis.from_url(settings.redis_url, decode_responses=True, **settings.redis_options()),
    )


def create_app(
    runtime: Runtime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    body_limits: Mapping[str, int | None] | None = None,
) -> FastAPI:
    """`body_limits`: paths whose request bodies have a limit of their own instead of the
    settings' `http_max_body_bytes`, or none (None: the route enforces and reports its own)."""
    settings = runtime.settings
    security = kafka_security(settings)
    watch = KafkaWatch(
        settings.kafka_bootstrap_servers,
        runtime.groups,
        runtime.bus.topic(dlq_topic(settings.service_name)),
        security=security,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # uvicorn has configured its loggers by now: route them through ours again.
        configure_logging(f"cop-{settings.service_name}", settings.log_level)
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            partitions=settings.kafka_topic_partitions,
            replication_factor=settings.kafka_replication_factor,
            topic_prefix=settings.kafka_topic_prefix,
            security=security,
        )
        for hook in on_startup:
            await hook()
        await runtime.broker.start()
        await watch.start()
        try:
            yield
        finally:
            await watch.stop()
            # Background loops (dispatching, evaluating) publish: they stop while the broker
            # can still carry what they are finishing.
            for hook in on_shutdown:
                await hook()
            await runtime.broker.stop()
            await runtime.redis.aclose()
            await runtime.mongo.close()
            shutdown_telemetry()

    # `/docs` and `/redoc` load Swagger UI and ReDoc from the service itself (a packaged copy
    # under `/docs/static`), not from a CDN: they work on a machine without internet.
    app = FastAPIOffline(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        static_url="/docs/static",
    )
    install_problem_handlers(app, settings.service_name)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.http_max_body_bytes, path_limits=body_limits
    )
    readiness = {
        "kafka": runtime.kafka_ready,
        "mongodb": runtime.mongo_ready,
        "redis": runtime.redis_ready,
    }
    add_routes(app, health_router(readiness), metrics_router(), *routers)
    log_requests(app)
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=runtime.tracer_provider,
        meter_provider=metrics.get_meter_provider(),
        excluded_urls="healthz,readyz,metrics",
        exclude_spans=["receive", "send"],
    )
    return app
