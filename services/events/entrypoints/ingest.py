"""`POST /ingest`: how other systems put events on the bus over HTTP."""

from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from services.events.adapters.sources import RateLimiter, Source
from services.events.commands.ingest import Gateway
from shared.events.bindings import RepeatedAttribute, UnsupportedMediaType, events_from_http
from shared.events.codec import MAX_DEPTH, FieldError, InvalidEvent
from shared.http import PROBLEM_JSON, Problem

INGEST_DOC = """One CloudEvent, or a batch of up to `max_batch` of them, in any JSON content mode.

- structured: the event as JSON, `content-type: application/cloudevents+json` (or
  `application/json`);
- binary: the attributes in `ce-*` headers (`ce-specversion`, `ce-id`, `ce-source`, `ce-type`,
  `ce-partitionkey`, ...), the data as the body with its `content-type` (`application/json`);
- batched: a JSON array of structured events, `content-type:
  application/cloudevents-batch+json` (a plain JSON array is read as a batch too).

Authenticate with `Authorization: Bearer <api key>` (from `copctl sources add`). A single event
answers 202 (accepted), 200 (a duplicate of an event already accepted), 422 problem+json listing
every wrong field, or 413 when it is larger than the broker accepts. A batch answers 200 with a
result per event, in order: one bad event does not sink the batch. A body that cannot be read
answers 400 (not JSON, nested too deeply; in binary mode, an attribute header such as `ce-id` sent
twice), 413 (too large) or 415 (not a JSON event format).
Rejected events are also recorded on `cop.inbound.rejected` (without payloads too large to keep).
"""

PATH = "/ingest"
"""The route's path: it enforces and reports its own body limits, not the services' common one."""
MAX_BODY_BYTES = 10 * 1_048_576
"""Default limit of one request's body (a batch); each event must also fit in a Kafka record."""

_PROBLEM = "urn:cop:problem:ingest:"


def router(
    gateway: Gateway,
    limiter: RateLimiter,
    max_batch: int,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_depth: int = MAX_DEPTH,
) -> APIRouter:
    api = APIRouter(tags=["inbound gateway"])

    async def caller(authorization: str | None) -> Source:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise Problem(
                401,
                "API key required",
                "send `Authorization: Bearer <api key>`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        source = await gateway.sources.by_key(key.strip())
        if source is None:
            raise Problem(401, "Unknown API key", headers={"WWW-Authenticate": "Bearer"})
        return source

    async def limited(source: Source, n: int) -> None:
        verdict = await limiter.take(source, n)
        if not verdict.allowed:
            raise Problem(
                429,
                "Rate limit reached",
                f"{source.name} may send {source.rate_limit_per_minute} events per minute",
                headers={"Retry-After": str(verdict.retry_after_s)},
            )

    async def refused(error: InvalidEvent, source: Source, size: int | None) -> Problem:
        """A request that never became events: recorded as rejected, answered 400 (also for
        a binary-mode attribute header sent twice), 413 or 415.

        It counts as one event against the source's rate limit, so refusals cannot flood
        `cop.inbound.rejected` either."""
        await limited(source, 1)
        await gateway.refuse(error, source=source, via="http", size=size)
        if isinstance(error, UnsupportedMediaType):
            status, title, kind = 415, "Unsupported event format", "unsupported-format"
        elif isinstance(error, RepeatedAttribute):
            status, title, kind = 400, "Attribute header sent twice", "repeated-header"
        elif error.oversized:
            status, title, kind = 413, "Request body too large", "too-large"
        else:
            status, title, kind = 400, "Request body is not an event", "unreadable-body"
        return Problem(
            status,
            title,
            error.reason,
            type_=_PROBLEM + kind,
            extra={"errors": [e.as_dict() for e in error.errors]},
        )

    @api.post(
        PATH,
        description=INGEST_DOC,
        status_code=202,
        responses={
            200: {"description": "duplicate, or a batch's per-event results"},
            400: {"description": "the body is not JSON, or is nested too deeply"},
            401: {"description": "missing or unknown API key"},
            413: {"description": "batch, body or event too large"},
            415: {"description": "an event format other than JSON"},
            422: {"description": "the event is invalid"},
            429: {"description": "the source's rate limit is reached"},
        },
    )
    async def ingest(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> JSONResponse:
        source = await caller(authorization)
        body = b""
        try:
            body = await _read_body(request, max_body_bytes)
            received = events_from_http(
                body, request.headers, max_bytes=max_body_bytes, max_depth=max_depth
            )
        except _BodyTooLarge as e:
            error = InvalidEvent(
                "body too large",
                [FieldError("body", f"more than {max_body_bytes} bytes")],
                attributes=_ce_attributes(request),
                oversized=True,
            )
            raise await refused(error, source, e.size) from None
        except InvalidEvent as e:
            raise await refused(e, source, len(body)) from None
        events = received.events
        if not events:
            raise Problem(422, "Empty batch", "send one event or a non-empty array")
        if len(events) > max_batch:
            raise Problem(413, "Batch too large", f"at most {max_batch} events per request")
        await limited(source, len(events))
        outcomes = await gateway.accept_all(events, source=source, via="http")
        if received.batch:
            counts = {s: sum(o.status == s for o in outcomes) for s in ("accepted", "duplicate")}
            return JSONResponse(
                {
                    **counts,
                    "rejected": sum(o.status == "rejected" for o in outcomes),
                    "results": [{"index": i, **o.as_dict()} for i, o in enumerate(outcomes)],
                }
            )
        (outcome,) = outcomes
        if outcome.status == "rejected":
            status, kind = (413, "event-too-large") if outcome.too_large else (422, "invalid-event")
            problem = {
                "type": _PROBLEM + kind,
                "title": "Event rejected",
                "status": status,
                "detail": outcome.reason,
                "instance": request.url.path,
                "errors": outcome.errors,
            }
            return JSONResponse(problem, status_code=status, media_type=PROBLEM_JSON)
        return JSONResponse(
            outcome.as_dict(), status_code=202 if outcome.status == "accepted" else 200
        )

    return api


class _BodyTooLarge(Exception):
    def __init__(self, size: int | None) -> None:
        super().__init__(size)
        self.size = size


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, read no further than `limit` bytes (beyond that: _BodyTooLarge)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge(int(declared))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _BodyTooLarge(int(declared) if declared.isdigit() else None)
    return bytes(body)


def _ce_attributes(request: Request) -> dict[str, str]:
    """A binary-mode request's attributes: which event a body too large to read was."""
    return {
        name.removeprefix("ce-"): unquote(value)[:256]
        for name, value in request.headers.items()
        if name.startswith("ce-")
    }
