"""Producer spans for every record a service publishes, after the messaging semantic conventions.

A FastStream broker middleware: each publish becomes a `send <topic>` PRODUCER span, child of
whatever is current (an HTTP request, the handling of a consumed event), whose context travels
in the record's W3C `traceparent` / `tracestate` headers. The consumer side lives in
`shared.consumer` and `shared.messagebus` (a batch span linking every record's producer, and
a span continuing its producer's trace for each record whose trace is sampled).
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from faststream import BaseMiddleware
from faststream.kafka.response import KafkaPublishCommand
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None


def _event_id(body: Any, headers: dict[str, str]) -> str | None:
    """The CloudEvent id: a `ce_id` header (binary mode) or the structured event's `id`."""
    if event_id := headers.get("ce_id"):
        return event_id
    if isinstance(body, bytes) and body[:1] == b"{":
        try:
            event = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        found = event.get("id") if isinstance(event, dict) else None
        return found if isinstance(found, str) else None
    return None


def producer_attributes(cmd: KafkaPublishCommand, client_id: str) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": cmd.destination,
        "messaging.client.id": client_id,
    }
    if (key := _text(cmd.key)) is not None:
        attributes["messaging.kafka.message.key"] = key
    if cmd.partition is not None:
        attributes["messaging.destination.partition.id"] = str(cmd.partition)
    headers = cmd.headers or {}
    if event_id := _event_id(cmd.body, headers):
        attributes["messaging.message.id"] = event_id
        attributes["cloudevents.event_id"] = event_id
    if event_type := headers.get("ce_type"):
        attributes["cloudevents.event_type"] = event_type
    if len(cmd.batch_bodies) > 1:
        attributes["messaging.batch.message_count"] = len(cmd.batch_bodies)
    return attributes


class KafkaTracing:
    """The middleware factory to add to a broker: `broker.add_middleware(KafkaTracing(...))`."""

    def __init__(self, tracer_provider: trace.TracerProvider, client_id: str) -> None:
        self._tracer = tracer_provider.get_tracer("cop.kafka")
        self._client_id = client_id

    def __call__(self, msg: Any, /, *, context: Any) -> "_Tracing":
        return _Tracing(msg, context=context, tracer=self._tracer, client_id=self._client_id)


class _Tracing(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, tracer: trace.Tracer, client_id: str) -> None:
        super().__init__(msg, context=context)
        self._tracer = tracer
        self._client_id = client_id

    async def publish_scope(self, call_next: Callable[[Any], Awaitable[Any]], cmd: Any) -> Any:
        if not isinstance(cmd, KafkaPublishCommand):
            return await call_next(cmd)
        span = self._tracer.start_span(
            f"send {cmd.destination}",
            kind=SpanKind.PRODUCER,
            attributes=producer_attributes(cmd, self._client_id),
        )
        try:
            with trace.use_span(span, end_on_exit=False, set_status_on_exception=False):
                headers = dict(cmd.headers or {})
                propagate.inject(headers)
                cmd.headers = headers
                result = await call_next(cmd)
        except Exception as e:
            _failed(span, e)
            span.end()
            raise
        if isinstance(result, asyncio.Future):
            # Published without waiting (`no_confirm`): the span ends with the acknowledgement.
            result.add_done_callback(lambda sent: _acknowledged(span, sent))
        else:
            _record(span, result)
            span.end()
        return result


def _acknowledged(span: Span, sent: "asyncio.Future[Any]") -> None:
    if sent.cancelled():
        span.set_status(Status(StatusCode.ERROR, "cancelled"))
    elif (error := sent.exception()) is not None:
        _failed(span, error)
    else:
        _record(span, sent.result())
    span.end()


def _failed(span: Span, error: BaseException) -> None:
    span.set_attribute("error.type", type(error).__qualname__)
    span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))


def _record(span: Span, metadata: Any) -> None:
    """Where the broker wrote the record (aiokafka's RecordMetadata)."""
    partition = getattr(metadata, "partition", None)
    offset = getattr(metadata, "offset", None)
    if isinstance(partition, int):
        span.set_attribute("messaging.destination.partition.id", str(partition))
    if isinstance(offset, int):
        span.set_attribute("messaging.kafka.offset", offset)
