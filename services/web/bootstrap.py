"""The web service's composition root: the one place its dependencies are wired.

An edge service: it reads and acts through the other services' HTTP APIs and keeps no state of
its own, so it has no database, Redis or Kafka consumer (and no `event_handlers.py`,
`rebuild.py` or `jobs.py`)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from opentelemetry import metrics
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from services.web.adapters.oidc import OidcClient
from services.web.adapters.upstream import Upstreams
from services.web.commands import PageCommands
from services.web.entrypoints.http import error_pages, router, templates
from services.web.entrypoints.security import EdgeHeaders, Sessions
from services.web.entrypoints.sign_in import sign_in_router
from services.web.queries import PageQueries
from services.web.settings import WebSettings
from shared.body_limit import BodySizeLimit
from shared.http import health_router, log_requests, metrics_router
from shared.logs import configure_logging, secrets_of
from shared.telemetry import setup_telemetry, shutdown_telemetry

STATIC = Path(__file__).resolve().parent / "static"


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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(name, settings.log_level)
        try:
            yield
        finally:
            await upstreams.close()
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
    app.include_router(health_router({}))
    app.include_router(metrics_router())
    app.include_router(router(PageQueries(upstreams), PageCommands(upstreams), sessions, pages))
    app.include_router(sign_in_router(oidc, sessions, pages))
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
