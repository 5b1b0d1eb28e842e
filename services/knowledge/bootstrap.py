"""The knowledge service's composition root: the one place its dependencies are wired."""

from fastapi import FastAPI

from services.knowledge import rebuild
from services.knowledge.adapters.ids import ArtifactIds
from services.knowledge.adapters.projection import KnowledgeProjection
from services.knowledge.adapters.search_index import IndexWrites, SearchIndex
from services.knowledge.commands import KnowledgeCommands
from services.knowledge.entrypoints.http import router
from services.knowledge.entrypoints.search_feed import SearchFeed
from services.knowledge.event_handlers import event_handlers
from services.knowledge.queries import KnowledgeQueries
from services.knowledge.settings import KnowledgeSettings
from shared.auth import auth_from_settings
from shared.events.topics import Topic
from shared.idempotency import IdempotencyStore, idempotency
from shared.kafka import kafka_security
from shared.runtime import build_runtime, create_app


def bootstrap(settings: KnowledgeSettings | None = None) -> FastAPI:
    settings = settings or KnowledgeSettings()
    runtime = build_runtime(settings)
    projection = KnowledgeProjection(runtime.db)
    runtime.subscribe(event_handlers(projection.unit_of_work), *rebuild.TOPICS)
    # This replica's own search index, fed from the whole knowledge topic (not a share of it).
    index = SearchIndex(settings.search_index_path(), runtime.bus.topic(Topic.KNOWLEDGE))
    feed = SearchFeed(
        index,
        event_handlers(lambda: IndexWrites(index)),
        settings.kafka_bootstrap_servers,
        security=kafka_security(settings),
    )
    auth = auth_from_settings(settings)
    app = create_app(
        runtime,
        title="CoP Knowledge",
        description="Patterns, decision logs, templates, playbooks and other artifacts: "
        "versions, links, retirement, reuse by teams, and search.",
        routers=[
            router(
                KnowledgeCommands(
                    runtime.bus,
                    projection,
                    ArtifactIds(runtime.redis, settings.mongodb_database),
                    index,
                ),
                KnowledgeQueries(projection, index),
                auth,
                idempotency(
                    IdempotencyStore(
                        runtime.redis, settings.mongodb_database, settings.idempotency_ttl_s
                    ),
                    auth,
                ),
            )
        ],
        on_startup=[feed.start],
        on_shutdown=[feed.stop],
    )
    app.state.search_feed = feed
    return app
