"""The web service's composition root: the one place its dependencies are wired.

An edge service: the pages and the chat commands read and act through the other services' HTTP
APIs, and it keeps no state of its own (no database, no Kafka consumer, no `event_handlers.py`,
`rebuild.py` or `jobs.py`); Redis only remembers the signed chat requests it has accepted."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from opentelemetry import metrics
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from redis.asyncio import Redis

from services.web.adapters.chat_platforms import (
    ChatPlatform,
    ChatRequest,
    DelayedAnswers,
    Mattermost,
    Platform,
    Slack,
    Teams,
)
from services.web.adapters.oidc import OidcClient
from services.web.adapters.replays import SeenRequests
from services.web.adapters.upstream import Upstreams
from services.web.commands.chat import Authority, ChatCommands
from services.web.commands.health_checks import HealthCheckCommands
from services.web.commands.pages import PageCommands
from services.web.commands.topics import BacklogCommands
from services.web.entrypoints.chat import chat_router
from services.web.entrypoints.health_checks import health_check_router
from services.web.entrypoints.http import PageKit, error_pages, router, templates
from services.web.entrypoints.impact import impact_router
from services.web.entrypoints.security import EdgeHeaders, Sessions
from services.web.entrypoints.sign_in import sign_in_router
from services.web.entrypoints.topics import topic_router
from services.web.queries.health_checks import HealthCheckQueries
from services.web.queries.impact import ImpactPageQueries
from services.web.queries.pages import PageQueries
from services.web.queries.topics import BacklogQueries
from services.web.settings import WebSettings
from shared.auth import ADMIN, issue_token
from shared.body_limit import BodySizeLimit
from shared.http import add_routes, health_router, log_requests, metrics_router
from shared.logs import configure_logging, secrets_of
from shared.telemetry import setup_telemetry, shutdown_telemetry

STATIC = Path(__file__).resolve().parent / "static"
EDGE_ID = "cop-web"  # the subject of the edge's own tokens (chat lookups and account links)


def chat_platforms(settings: WebSettings) -> dict[ChatPlatform, Platform]:
    """The platforms whose secrets are set: only those answer at `/chat/<platform>`."""
    platforms: dict[ChatPlatform, Platform] = {}
    if secret := settings.web_slack_signing_secret.get_secret_value():
        platforms[ChatPlatform.SLACK] = Slack(secret)
    if settings.mattermost_tokens:
        platforms[ChatPlatform.MATTERMOST] = Mattermost(settings.mattermost_tokens)
    if secret := settings.web_teams_secret.get_secret_value():
        platforms[ChatPlatform.TEAMS] = Teams(secret)
    return platforms


def chat_authority(settings: WebSettings, sessions: Sessions) -> Authority:
    def token(subject: str, scopes: tuple[str, ...] = ()) -> str:
        return issue_token(
            settings.auth_token_secret,
            subject,
            scopes=scopes,
            ttl_s=60,
            max_lifetime_s=settings.auth_token_max_lifetime_s,
            audience=settings.auth_token_audience,
        )

    def link_url(request: ChatRequest) -> str:
        identity = {
            "platform": request.platform.value,
            "workspace_id": request.workspace_id,
            "user_id": request.user_id,
            "user_name": request.user_name,
        }
        site = settings.web_public_url.rstrip("/")
        return f"{site}/chat/link?t={sessions.chat_link_token(identity)}"

    return Authority(member=token, edge=lambda: token(EDGE_ID, (ADMIN,)), link_url=link_url)


def bootstrap(
    settings: WebSettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`transport`: how the upstream clients reach the services (tests hand in a mock one)."""
    settings = settings or WebSettings()
    name = f"cop-{settings.service_name}"
    configure_logging(name, settings.log_level, secrets_of(settings))
    provider = setup_telemetry(name)
    upstreams = Upstreams(
        settings.upstream_urls(), timeout_s=settings.web_upstream_timeout_s, transport=transport
    )
    sessions = Sessions(
        secret=settings.auth_token_secret,
        ttl_s=settings.web_session_ttl_s,
        max_lifetime_s=settings.auth_token_max_lifetime_s,
        audience=settings.auth_token_audience,
        secure=not settings.is_local,
    )
    oidc_http = (  # only where members sign in with the organisation's provider
        httpx.AsyncClient(timeout=settings.web_upstream_timeout_s, transport=transport)
        if settings.web_oidc_issuer
        else None
    )
    oidc = (
        OidcClient(
            issuer=settings.web_oidc_issuer,
            client_id=settings.web_oidc_client_id,
            client_secret=settings.web_oidc_client_secret,
            redirect_uri=settings.oidc_redirect_uri,
            scopes=settings.web_oidc_scopes,
            member_claim=settings.auth_oidc_member_claim,
            algorithms=settings.auth_oidc_algorithms,
            http=oidc_http,
        )
        if oidc_http
        else None
    )
    pages = templates(sessions, settings.dev_sign_in, oidc is not None)
    page_commands = PageCommands(upstreams)
    redis = Redis.from_url(settings.redis_url, **settings.redis_options())
    delayed = DelayedAnswers(settings.chat_response_hosts, settings.web_upstream_timeout_s)
    chat = ChatCommands(
        upstreams, page_commands, chat_authority(settings, sessions), settings.web_public_url
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(name, settings.log_level)
        try:
            yield
        finally:
            await delayed.close()
            await upstreams.close()
            await redis.aclose()
            if oidc_http:
                await oidc_http.aclose()
            shutdown_telemetry()

    app = FastAPI(
        title="CoP web",
        description="The platform's pages for members, leaders and sponsors.",
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.http_max_body_bytes)
    app.add_middleware(EdgeHeaders, sessions=sessions)
    # Ready as soon as the process serves: a service that does not answer blanks only the
    # parts of a page that need it, it does not take the pages down.
    kit = PageKit(sessions, pages)
    add_routes(
        app,
        health_router({}),
        metrics_router(),
        router(PageQueries(upstreams), page_commands, sessions, pages),
        health_check_router(HealthCheckQueries(upstreams), HealthCheckCommands(upstreams), kit),
        topic_router(BacklogQueries(upstreams), BacklogCommands(upstreams), kit),
        chat_router(
            chat_platforms(settings),
            chat,
            SeenRequests(redis, settings.mongodb_database),
            delayed,
            kit,
            upstreams,
            settings.web_chat_answer_within_s,
        ),
        impact_router(ImpactPageQueries(upstreams), kit),
        sign_in_router(oidc, sessions, pages),
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for key, handler in error_pages(pages, sessions).items():
        app.add_exception_handler(key, handler)
    log_requests(app)
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        meter_provider=metrics.get_meter_provider(),
        excluded_urls="healthz,readyz,metrics,static",
        exclude_spans=["receive", "send"],
    )
    return app
