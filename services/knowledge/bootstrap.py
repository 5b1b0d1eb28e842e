"""The knowledge service's composition root: the one place its dependencies are wired."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.knowledge import rebuild
from services.knowledge.adapters.ids import ArtifactIds
from services.knowledge.adapters.projection import KnowledgeProjection
from services.knowledge.commands import KnowledgeCommands
from services.knowledge.domain.errors import Refused
from services.knowledge.entrypoints.http import router
from services.knowledge.event_handlers import event_handlers
from services.knowledge.queries import KnowledgeQueries
from services.knowledge.settings import KnowledgeSettings
from shared.auth import auth_from_settings
from shared.http import problem_response
from shared.idempotency import IdempotencyStore, idempotency
from shared.runtime import build_runtime, create_app


def bootstrap(settings: KnowledgeSettings | None = None) -> FastAPI:
    settings = settings or KnowledgeSettings()
    runtime = build_runtime(settings)
    projection = KnowledgeProjection(runtime.db)
    runtime.subscribe(event_handlers(projection), *rebuild.TOPICS)
    auth = auth_from_settings(settings)
    app = create_app(
        runtime,
        title="CoP Knowledge",
        description="Patterns, decision logs, templates, playbooks and other artifacts: "
        "versions, links, retirement, reuse by teams, and search.",
        routers=[
            router(
                KnowledgeCommands(
                    runtime.bus, projection, ArtifactIds(runtime.redis, settings.mongodb_database)
                ),
                KnowledgeQueries(projection),
                auth,
                idempotency(
                    IdempotencyStore(
                        runtime.redis, settings.mongodb_database, settings.idempotency_ttl_s
                    ),
                    auth,
                ),
            )
        ],
    )

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        return problem_response(
            request,
            exc.status,
            exc.title,
            str(exc),
            type_=f"urn:cop:problem:knowledge:{exc.code}",
            extra={"code": exc.code},
        )

    return app
