"""HTTP conventions shared by the services: RFC 9457 problem details, health endpoints,
`/metrics` and one log line per request."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.fields import FieldInfo
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError
from pymongo.errors import ConnectionFailure as PyMongoConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import PROMETHEUS_CONTENT_TYPE, prometheus_text
from shared.refusals import Refused

PROBLEM_JSON = "application/problem+json"

# A command that cannot reach the broker or a store answers 503 (retry later), not 500.
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    KafkaError,
    PyMongoConnectionFailure,
    RedisConnectionError,
    RedisTimeoutError,
)
log = logging.getLogger(__name__)


class Problem(Exception):
    """An error the API reports as problem+json, e.g. a refused transition (409)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        type_: str = "about:blank",
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "instance": request.url.path,
    }
    if problem.detail:
        body["detail"] = problem.detail
    body.update(problem.extra)
    return JSONResponse(
        body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers or None
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        errors.append({"field": ".".join(loc) or "body", "message": err.get("msg", "invalid")})
    return errors


def install_problem_handlers(app: FastAPI, service: str = "cop") -> None:
    """problem+json for every error; a domain's `Refused` is typed `urn:cop:problem:{service}:…`."""

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        problem = Problem(
            exc.status,
            exc.title,
            str(exc),
            type_=f"urn:cop:problem:{service}:{exc.code}",
            extra={"code": exc.code, **exc.details},
        )
        return problem_response(request, problem)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(
            request,
            Problem(
                422,
                "Request is not valid",
                "one or more fields are wrong; see errors",
                extra={"errors": _validation_errors(exc)},
            ),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own 400 is a body it could not parse (e.g. not JSON): name it like a 422 does.
        errors = [{"field": "body", "message": str(exc.detail)}] if exc.status_code == 400 else None
        return problem_response(
            request,
            Problem(
                exc.status_code,
                str(exc.detail),
                extra={"errors": errors} if errors else None,
                headers=getattr(exc, "headers", None),
            ),
        )

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable on %s %s: %r", request.method, request.url.path, exc)
        return problem_response(
            request,
            Problem(
                503,
                "Service unavailable",
                "a dependency (Kafka, MongoDB or Redis) is not reachable; retry later",
                headers={"Retry-After": "5"},
            ),
        )

    for error in DEPENDENCY_ERRORS:
        app.add_exception_handler(error, _unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, Problem(500, "Internal error"))


# Request bodies take their fields from the catalog's event models. A body that gives most of
# an event extends the event's `…Fields` (the event without the ids that the path or the service
# supply) and adds those ids as optional when the client may choose them; a body that gives a few
# of an event's fields is a `Body` that declares them with the catalog's types, or `like` the
# event's field. A field that the path or the service's state supply is `NotInBody` (hidden from
# the schema, a 422 naming the field when sent). No body subclasses its event: it would have to
# change the type of a field it inherits.


class Body(BaseModel):
    """A request body: unknown fields are refused, as in an event's data."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def like(event: type[BaseModel], name: str) -> FieldInfo:
    """A catalog field's constraints, for a body field that only changes default or optionality."""
    return event.model_fields[name]


def _not_in_body(value: object) -> None:
    if value is not None:
        raise PydanticCustomError("extra_forbidden", "Extra inputs are not permitted")


NotInBody = SkipJsonSchema[Annotated[None, BeforeValidator(_not_in_body), Field(exclude=True)]]


ReadinessCheck = Callable[[], Awaitable[object]]


def add_routes(app: FastAPI, *routers: APIRouter) -> None:
    """Put the routers' routes on the app itself, as `@app.get` would.

    `include_router` keeps each router whole and, at the first request, analyses every route's
    parameters and dependencies a second time (pydantic adapters and all): most of what starting
    a service costs, paid again by every app a test builds. A router's own prefix, tags,
    responses and dependencies are already on each of its routes and nothing is set at
    inclusion, so the routes and the OpenAPI document are the same either way.
    """
    for router in routers:
        if router.on_startup or router.on_shutdown:
            raise ValueError("a router with start-up or shut-down handlers needs include_router")
        app.router.routes.extend(router.routes)


def health_router(checks: Mapping[str, ReadinessCheck], timeout_s: float = 2.0) -> APIRouter:
    """`/healthz`: the process answers. `/readyz`: every dependency answers within the timeout."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"description": "a dependency is not ready"}})
    async def readyz(request: Request) -> JSONResponse:
        async def run(name: str, check: ReadinessCheck) -> tuple[str, str]:
            try:
                result = await asyncio.wait_for(check(), timeout_s)
            except Exception as e:
                return name, f"error: {type(e).__name__}: {e}"[:300]
            return name, "ok" if result is not False else "error: not reachable"

        results = dict(await asyncio.gather(*(run(n, c) for n, c in checks.items())))
        if all(v == "ok" for v in results.values()):
            return JSONResponse({"status": "ready", "checks": results})
        problem = Problem(
            503, "Not ready", "a dependency is not reachable", extra={"checks": results}
        )
        return problem_response(request, problem)

    return router


def metrics_router() -> APIRouter:
    """`/metrics`: the process's OpenTelemetry metrics in the Prometheus text format."""
    router = APIRouter(tags=["health"])

    # Not part of the API's OpenAPI document: it is for the scraper, and takes no input.
    @router.get("/metrics", response_class=Response, include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(prometheus_text(), media_type=PROMETHEUS_CONTENT_TYPE)

    return router


_request_log = logging.getLogger("cop.http")


class _RequestLog:
    """One line per request, inside the request's server span (so it carries the trace id):
    method, path (never the query string, which may hold a token), route, status, duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ("/healthz", "/readyz", "/metrics"):
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            _request_log.info(
                "%s %s answered %d in %.1f ms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - began) * 1000,
                extra={
                    "http.request.method": scope["method"],
                    "url.path": scope["path"],
                    "http.route": getattr(route, "path", None),
                    "http.response.status_code": status,
                },
            )


def log_requests(app: FastAPI) -> None:
    app.add_middleware(_RequestLog)
