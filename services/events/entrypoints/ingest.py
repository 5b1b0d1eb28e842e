"""`POST /ingest` and the `cop.inbound` topic: how other systems put events on the bus."""

import asyncio
import json
from typing import Annotated, Any

from aiokafka import ConsumerRecord
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from services.events.adapters.sources import RateLimiter, Source
from services.events.gateway import Gateway
from shared.consumer import TRANSIENT_ERRORS, publish_dead_letter, record_headers
from shared.events.topics import Topic
from shared.http import PROBLEM_JSON, Problem
from shared.kafka import EventBus

INGEST_DOC = """One CloudEvent (structured JSON) or a JSON array of up to `max_batch` of them.

Authenticate with `Authorization: Bearer <api key>` (from `copctl sources add`). A single event
answers 202 (accepted), 200 (a duplicate of an event already accepted) or a 4xx problem+json
listing every wrong field. A batch answers 200 with a result per event, in order: one bad event
does not sink the batch. Rejected events are also recorded on `cop.inbound.rejected`.
"""


def router(gateway: Gateway, limiter: RateLimiter, max_batch: int) -> APIRouter:
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

    @api.post(
        "/ingest",
        description=INGEST_DOC,
        status_code=202,
        responses={
            200: {"description": "duplicate, or a batch's per-event results"},
            401: {"description": "missing or unknown API key"},
            413: {"description": "batch too large"},
            422: {"description": "the event is invalid"},
            429: {"description": "the source's rate limit is reached"},
        },
    )
    async def ingest(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> JSONResponse:
        source = await caller(authorization)
        try:
            payload: Any = json.loads(await request.body())
        except ValueError as e:
            raise Problem(400, "Body is not valid JSON", str(e)) from e
        events = payload if isinstance(payload, list) else [payload]
        if not events:
            raise Problem(422, "Empty batch", "send one event or a non-empty array")
        if len(events) > max_batch:
            raise Problem(413, "Batch too large", f"at most {max_batch} events per request")
        verdict = await limiter.take(source, len(events))
        if not verdict.allowed:
            raise Problem(
                429,
                "Rate limit reached",
                f"{source.name} may send {source.rate_limit_per_minute} events per minute",
                headers={"Retry-After": str(verdict.retry_after_s)},
            )
        outcomes = [await gateway.accept(e, source=source, via="http") for e in events]
        if isinstance(payload, list):
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
            body = {
                "type": "urn:cop:problem:ingest:invalid-event",
                "title": "Event rejected",
                "status": 422,
                "detail": outcome.reason,
                "instance": request.url.path,
                "errors": outcome.errors,
            }
            return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON)
        return JSONResponse(
            outcome.as_dict(), status_code=202 if outcome.status == "accepted" else 200
        )

    return api


def subscribe_inbound(
    bus: EventBus, gateway: Gateway, group_id: str, *, max_retries: int = 3, backoff_s: float = 0.2
) -> None:
    """Events produced straight to `cop.inbound`: judged like HTTP ones, source from the event.

    A record the gateway cannot handle (not an invalid event: those are rejected) is retried a
    few times, then parked on `cop.dlq.events`; a dependency outage rewinds the batch instead.
    """

    @bus.broker.subscriber(
        bus.topic(str(Topic.INBOUND)),
        group_id=group_id,
        batch=True,
        max_records=500,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="events:inbound",
        description="Other systems' CloudEvents, routed to their domain topics or rejected",
    )
    async def inbound(message: KafkaMessage) -> None:
        raw = message.raw_message
        records: tuple[ConsumerRecord[Any, Any], ...] = raw if isinstance(raw, tuple) else (raw,)
        for record in records:
            await _accept_with_retries(record)

    async def _accept_with_retries(record: ConsumerRecord[Any, Any]) -> None:
        for attempt in range(max_retries + 1):
            try:
                await gateway.accept(record.value, source=None, via="kafka")
                return
            except TRANSIENT_ERRORS:
                raise
            except Exception as e:
                error = e
                if attempt < max_retries:
                    await asyncio.sleep(backoff_s * 2**attempt)
        await publish_dead_letter(
            bus,
            "events",
            key=record.key,
            value=record.value,
            headers=record_headers(record),
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=f"{type(error).__name__}: {error}",
        )
