"""Recognition's composition root: the one place its dependencies are wired."""

from fastapi import FastAPI

from services.recognition import rebuild
from services.recognition.adapters.allowance import AllowanceCounter
from services.recognition.adapters.projection import RecognitionProjection
from services.recognition.domain.kudos import KudosPolicy
from services.recognition.entrypoints.http import router
from services.recognition.event_handlers import event_handlers
from services.recognition.handlers import RecognitionHandlers
from services.recognition.settings import RecognitionSettings
from shared.auth import member_auth
from shared.runtime import build_runtime, create_app


def bootstrap(settings: RecognitionSettings | None = None) -> FastAPI:
    settings = settings or RecognitionSettings()
    runtime = build_runtime(settings)
    policy = KudosPolicy(settings.kudos_allowance_per_week, frozenset(settings.kudos_value_tags))
    projection = RecognitionProjection(runtime.db)
    handlers = RecognitionHandlers(runtime.bus, policy, AllowanceCounter(runtime.redis), projection)
    runtime.subscribe(event_handlers(projection, policy), *rebuild.TOPICS)
    return create_app(
        runtime,
        title="CoP Recognition",
        description="Kudos, contribution ledger, badges, leaderboards and community health.",
        routers=[
            router(
                handlers,
                member_auth(
                    settings.auth_token_secret, max_lifetime_s=settings.auth_token_max_lifetime_s
                ),
            )
        ],
    )
