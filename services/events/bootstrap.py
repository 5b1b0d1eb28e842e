"""The events service's composition root."""

from fastapi import FastAPI

from services.events import rebuild
from services.events.adapters.backlog_turns import BacklogTurns
from services.events.adapters.projection import EventsProjection
from services.events.adapters.sources import InboundLedger, RateLimiter, SourceRegistry
from services.events.commands.ingest import Gateway
from services.events.commands.members import EventsCommands
from services.events.commands.topics import TopicCommands
from services.events.entrypoints import http, ingest
from services.events.entrypoints import sources as source_systems
from services.events.entrypoints import topics as topic_backlog
from services.events.entrypoints.inbound import inbound_handler
from services.events.event_handlers import event_handlers
from services.events.queries.communities import EventsQueries
from services.events.queries.topics import TopicQueries
from services.events.settings import EventsSettings
from shared.auth import auth_from_settings
from shared.events.topics import Topic
from shared.idempotency import IdempotencyStore, idempotency
from shared.runtime import build_runtime, create_app


def bootstrap(settings: EventsSettings | None = None) -> FastAPI:
    settings = settings or EventsSettings()
    runtime = build_runtime(settings)
    projection = EventsProjection(runtime.db)
    commands = EventsCommands(runtime.bus, projection)
    sources = SourceRegistry(runtime.db)
    gateway = Gateway(
        runtime.bus,
        sources,
        InboundLedger(runtime.db),
        max_record_bytes=settings.kafka_max_record_bytes,
    )
    runtime.subscribe(event_handlers(projection), *rebuild.TOPICS)
    runtime.subscribe_records(inbound_handler(gateway), str(Topic.INBOUND), group_suffix="inbound")
    auth = auth_from_settings(settings)
    idempotent = idempotency(
        IdempotencyStore(runtime.redis, settings.mongodb_database, settings.idempotency_ttl_s),
        auth,
    )
    turns = BacklogTurns(runtime.redis, settings.mongodb_database)
    topic_commands = TopicCommands(
        runtime.bus, projection, turns, vote_budget=settings.topic_vote_budget
    )
    app = create_app(
        runtime,
        title="CoP Events",
        description="Communities, members, sessions, attendance, feedback, action items, "
        "the topic backlog, and the inbound gateway for other systems' events.",
        routers=[
            http.router(
                commands,
                EventsQueries(projection),
                auth,
                idempotent,
                feedback_min_count=settings.feedback_summary_min_count,
            ),
            topic_backlog.router(
                topic_commands,
                TopicQueries(projection, vote_budget=settings.topic_vote_budget),
                auth,
                idempotent,
            ),
            ingest.router(
                gateway,
                RateLimiter(runtime.redis, settings.mongodb_database),
                settings.ingest_max_batch,
            ),
            source_systems.router(
                sources,
                auth,
                settings.ingest_default_rate_limit_per_minute,
            ),
        ],
        on_startup=[sources.ensure_indexes],
        body_limits={ingest.PATH: None},
    )

    return app
