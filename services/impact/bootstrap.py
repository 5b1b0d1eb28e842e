"""The impact service's composition root: the one place its dependencies are wired."""

from fastapi import FastAPI

from services.impact import rebuild
from services.impact.adapters.projection import ImpactProjection
from services.impact.commands import ImpactCommands
from services.impact.entrypoints.http import router
from services.impact.event_handlers import event_handlers
from services.impact.queries import ImpactQueries
from services.impact.settings import ImpactSettings
from shared.auth import auth_from_settings
from shared.idempotency import IdempotencyStore, idempotency
from shared.runtime import build_runtime, create_app


def bootstrap(settings: ImpactSettings | None = None) -> FastAPI:
    settings = settings or ImpactSettings()
    runtime = build_runtime(settings)
    projection = ImpactProjection(runtime.db)
    runtime.subscribe(event_handlers(projection.unit_of_work), *rebuild.TOPICS)
    auth = auth_from_settings(settings)
    production = frozenset(settings.production_environments)
    return create_app(
        runtime,
        title="CoP Impact",
        description="Teams' delivery (the DORA metrics, from their CI/CD systems' CDEvents) "
        "beside their participation in the communities, and how the two go together.",
        routers=[
            router(
                ImpactCommands(runtime.bus, projection, settings.wait_timeout_s),
                ImpactQueries(projection, production),
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
