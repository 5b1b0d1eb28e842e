"""How every service consumes the bus: batches, idempotent effects, one retry policy, the DLQ.

One consumer runs every Kafka entrypoint of a service, the inbound gateway's included. The
policy for a record, whatever its topic:

- it cannot be decoded (not JSON, too deep, too large, not the catalog's schema), in either
  CloudEvents content mode (structured, or binary with `ce_*` headers): parked on
  `cop.dlq.<service>` at once with the reason, never retried (an entrypoint that judges raw
  records itself, the inbound gateway, records its refusals on `cop.inbound.rejected`);
- a dependency is down (MongoDB, Redis, the broker): the batch is rewound and redelivered after
  a backoff that grows with each consecutive outage; never dead-lettered;
- any other failure: retried a bounded number of times with backoff, then the batch is split to
  find the poison record, which is dead-lettered, and the consumer moves on.

Offsets are committed only after the batch's effects are durable (or the poison record is
safely on the DLQ).
"""

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace import (
    INVALID_SPAN_CONTEXT,
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
)
from opentelemetry.trace.span import TraceFlags, TraceState
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from shared import metrics
from shared.events.bindings import decode_record
from shared.events.codec import DecodedEvent, InvalidEvent
from shared.events.topics import dlq_topic
from shared.kafka import EventBus

log = logging.getLogger(__name__)

# A dependency that is down: the batch is rewound and redelivered, never dead-lettered. Delivery
# to SMTP servers and webhooks is deliberately not here: it must never hold a partition.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    ServerSelectionTimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
)
MAX_OUTAGE_BACKOFF_S = 30.0


class Undecodable(ValueError):
    """A record no retry can fix: dead-lettered at once with this reason."""


@dataclass(frozen=True)
class ConsumedRecord:
    """A Kafka record as consumed: where it came from, its bytes and the trace it carries."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)
    group: str = ""  # the consumer group that received it
    header_list: tuple[tuple[str, bytes | None], ...] = ()
    """The headers as they came, a repeated one as often as it came (`headers` keeps its last)."""

    @classmethod
    def of(cls, record: ConsumerRecord[Any, Any], group: str = "") -> "ConsumedRecord":
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value if record.value is not None else b"",
            headers=record_headers(record),
            group=group,
            header_list=tuple(record.headers or ()),
        )

    @cached_property
    def producer(self) -> SpanContext:
        """The producer span's context the record carries; invalid when it carries none."""
        return producer_context(self.headers)

    @property
    def sampled(self) -> bool:
        """Whether the record's trace is sampled: a record without a trace is not."""
        return self.producer.is_valid and self.producer.trace_flags.sampled

    @cached_property
    def trace_context(self) -> otel_context.Context:
        """The context the record carries (its producer's span as the current one, and its
        baggage), for work in its trace."""
        if "baggage" in self.headers or not _reads_w3c():
            return propagate.extract(self.headers)
        if not self.producer.is_valid:
            return otel_context.Context()
        return trace.set_span_in_context(NonRecordingSpan(self.producer), otel_context.Context())

    @contextmanager
    def span(
        self, tracer: trace.Tracer, name: str, attributes: dict[str, str] | None = None
    ) -> Iterator[Span]:
        """A span that continues the producer's trace, so one request is one trace end to end,
        linked to the batch span it runs in (the span current when it starts)."""
        batch = trace.get_current_span().get_span_context()
        with tracer.start_as_current_span(
            name,
            context=self.trace_context,
            kind=SpanKind.CONSUMER,
            attributes={**message_attributes(self), **(attributes or {})},
            links=[Link(batch)] if batch.is_valid else None,
        ) as span:
            yield span


@dataclass(frozen=True)
class ConsumedEvent:
    """A decoded catalog event and the record it came in."""

    event: DecodedEvent
    record: ConsumedRecord

    @property
    def topic(self) -> str:
        return self.record.topic

    @property
    def partition(self) -> int:
        return self.record.partition

    @property
    def offset(self) -> int:
        return self.record.offset

    @property
    def headers(self) -> dict[str, str]:
        return self.record.headers

    @property
    def trace_context(self) -> otel_context.Context:
        return self.record.trace_context

    @contextmanager
    def span(self, tracer: trace.Tracer, name: str) -> Iterator[Span]:
        attributes = {
            "messaging.message.id": self.event.id,
            "cloudevents.event_id": self.event.id,
            "cloudevents.event_type": self.event.type,
        }
        with self.record.span(tracer, name, attributes) as span:
            yield span


T = TypeVar("T", ConsumedEvent, ConsumedRecord)
Decoder = Callable[[ConsumedRecord], T | None]


def record_headers(record: ConsumerRecord[Any, Any]) -> dict[str, str]:
    return {k: (v or b"").decode(errors="replace") for k, v in (record.headers or ())}


# W3C Trace Context, as the SDK's TraceContextTextMapPropagator reads it.
_TRACEPARENT = re.compile(
    r"^[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?[ \t]*$"
)
_W3C_FIELDS = frozenset({"traceparent", "tracestate", "baggage"})
_MAX_TRACESTATE = 512
_propagator_checked: tuple[TextMapPropagator | None, bool] = (None, False)


def _reads_w3c() -> bool:
    """Whether the configured propagators read W3C trace context (and baggage) only."""
    global _propagator_checked
    textmap = propagate.get_global_textmap()
    checked, w3c = _propagator_checked
    if checked is not textmap:
        w3c = "traceparent" in textmap.fields and textmap.fields <= _W3C_FIELDS
        _propagator_checked = (textmap, w3c)
    return w3c


def producer_context(headers: Mapping[str, str]) -> SpanContext:
    """The span context a record's headers carry, as the configured propagator reads it.

    With the default propagators (W3C trace context and baggage) the `traceparent` header is
    read directly: `propagate.extract` costs more than the rest of a record's consumption, and
    a batch needs the context of each of its records (its links, which records are sampled).
    """
    if not _reads_w3c():
        return trace.get_current_span(propagate.extract(headers)).get_span_context()
    header = headers.get("traceparent")
    match = _TRACEPARENT.search(header) if header else None
    if match is None:
        return INVALID_SPAN_CONTEXT
    version, trace_id, span_id, flags, rest = match.groups()
    if trace_id == "0" * 32 or span_id == "0" * 16 or version == "ff":
        return INVALID_SPAN_CONTEXT
    if version == "00" and rest:
        return INVALID_SPAN_CONTEXT
    state = headers.get("tracestate")
    return SpanContext(
        trace_id=int(trace_id, 16),
        span_id=int(span_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(int(flags, 16)),
        trace_state=TraceState.from_header([state])
        if state is not None and len(state) <= _MAX_TRACESTATE
        else None,
    )


def message_attributes(record: ConsumedRecord) -> dict[str, str | int]:
    """The messaging semantic conventions' attributes of one consumed Kafka record."""
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": record.topic,
        "messaging.destination.partition.id": str(record.partition),
        "messaging.kafka.offset": record.offset,
    }
    if record.group:
        attributes["messaging.consumer.group.name"] = record.group
    if record.key is not None:
        attributes["messaging.kafka.message.key"] = record.key.decode(errors="replace")
    if event_id := record.headers.get("ce_id"):
        attributes["messaging.message.id"] = event_id
    return attributes


def _batch_attributes(records: Sequence[ConsumedRecord], group: str) -> dict[str, str | int]:
    topics = sorted({r.topic for r in records})
    partitions = {(r.topic, r.partition) for r in records}
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": ",".join(topics),
        "messaging.consumer.group.name": group,
        "messaging.batch.message_count": len(records),
    }
    if len(partitions) == 1:
        attributes["messaging.destination.partition.id"] = str(records[0].partition)
    return attributes


def _event_type(item: "ConsumedEvent | ConsumedRecord") -> str:
    if isinstance(item, ConsumedEvent):
        return item.event.type
    return item.headers.get("ce_type") or "unknown"


def _batch_parent(records: Sequence[ConsumedRecord]) -> otel_context.Context:
    """The trace a batch span belongs to: its records' trace when they all share one (a single
    request's events: its MongoDB writes stay in that trace), else a trace of its own that
    links to each record's."""
    first = records[0].producer
    if first.is_valid and all(
        r.producer.is_valid and r.producer.trace_id == first.trace_id for r in records
    ):
        return records[0].trace_context
    return otel_context.Context()


def decode_event(record: ConsumedRecord) -> ConsumedEvent | None:
    """A domain topic's record as a catalog event; None for a type this version does not know."""
    try:
        decoded = decode_record(record.value, record.headers, key=record.key, strict=False)
    except InvalidEvent as e:
        detail = "; ".join(f"{err.field}: {err.message}" for err in e.errors)
        raise Undecodable(f"invalid event: {e.reason}" + (f" ({detail})" if detail else "")) from e
    return None if decoded is None else ConsumedEvent(decoded, record)


def raw_record(record: ConsumedRecord) -> ConsumedRecord:
    """For entrypoints that judge raw records themselves (the inbound gateway)."""
    return record


async def _leave_undecoded(message: Any) -> None:
    """FastStream would parse every body as JSON before our handler runs, and a poison body
    (5,000 nested arrays) would fail there, out of reach of the DLQ. The records are decoded by
    our own decoder instead, one by one, where a failure is caught and dead-lettered."""
    return None


def _record_of(item: ConsumedEvent | ConsumedRecord) -> ConsumedRecord:
    return item.record if isinstance(item, ConsumedEvent) else item


class EventConsumer(Generic[T]):
    """Feeds one entrypoint's batch handler from its topics, with the retry and DLQ policy."""

    def __init__(
        self,
        bus: EventBus,
        *,
        service: str,
        handler: Callable[[list[T]], Awaitable[None]],
        decoder: Decoder[T],
        max_retries: int = 3,
        backoff_s: float = 0.2,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._bus = bus
        self._service = service
        self._handler: Callable[[list[T]], Awaitable[None]] = handler
        self._decoder: Decoder[T] = decoder
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._tracer = tracer or trace.get_tracer(__name__)
        self._outages = 0
        self.group = f"cop-{service}"

    def subscribe(self, *topics: str, group_id: str = "", max_records: int = 500) -> None:
        """Consume the contract topics (names without the bus's prefix) as one consumer group."""
        self.group = group_id or f"cop-{self._service}"

        @self._bus.broker.subscriber(
            *(self._bus.topic(t) for t in topics),
            group_id=self.group,
            batch=True,
            max_records=max_records,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=_leave_undecoded,
            title=f"{self._service}:{'+'.join(topics)}",
            description=f"{self._service} applies these topics' events in batches",
        )
        async def consume(message: KafkaMessage) -> None:
            raw = message.raw_message
            records = raw if isinstance(raw, tuple) else (raw,)
            await self.process([ConsumedRecord.of(r, self.group) for r in records])

    async def process(self, records: Sequence[ConsumedRecord]) -> None:
        batch: list[T] = []
        for record in records:
            try:
                item = self._decoder(record)
            except Undecodable as e:
                await self._dead_letter(record, str(e))
                continue
            if item is not None:  # None: a type this version does not know, ignored
                batch.append(item)
        if batch:
            await self._apply(batch)

    async def _apply(self, batch: list[T]) -> None:
        records = [_record_of(item) for item in batch]
        links = [Link(r.producer) for r in records if r.producer.is_valid]
        began = time.perf_counter()
        outcome = "applied"
        with self._tracer.start_as_current_span(
            f"process {','.join(sorted({r.topic for r in records}))}",
            context=_batch_parent(records),
            kind=SpanKind.CONSUMER,
            links=links,
            attributes=_batch_attributes(records, self.group),
        ):
            try:
                error = await self._attempt(batch, self._max_retries)
                if error is None:
                    self._count_applied(batch)
                    log.debug(
                        "%s: applied %d record(s) in %.1f ms",
                        self._service,
                        len(batch),
                        (time.perf_counter() - began) * 1000,
                    )
                    return
                outcome = "split"
                if len(batch) == 1:
                    await self._dead_letter(
                        _record_of(batch[0]), _describe(error), error, _event_type(batch[0])
                    )
                    return
                # The batch keeps failing: find the poison record(s), one attempt each (the
                # batch was retried already; retrying every record again could outlast the
                # poll interval).
                for item in batch:
                    error = await self._attempt([item], 0)
                    if error is None:
                        self._count_applied([item])
                    else:
                        await self._dead_letter(
                            _record_of(item), _describe(error), error, _event_type(item)
                        )
            except TRANSIENT_ERRORS:
                outcome = "rewound"
                raise
            finally:
                metrics.batch_duration.record(
                    time.perf_counter() - began,
                    {metrics.GROUP: self.group, "cop.outcome": outcome},
                )

    def _count_applied(self, batch: Sequence[T]) -> None:
        counts: dict[tuple[str, str], int] = {}
        for item in batch:
            key = (_record_of(item).topic, _event_type(item))
            counts[key] = counts.get(key, 0) + 1
        for (topic, event_type), n in counts.items():
            metrics.events_consumed.add(
                n,
                {
                    metrics.GROUP: self.group,
                    metrics.DESTINATION: topic,
                    metrics.EVENT_TYPE: event_type,
                },
            )

    async def _attempt(self, batch: list[T], retries: int) -> Exception | None:
        """Run the handler with bounded retries; None on success, else the last error.

        A dependency outage is raised, so the caller's batch is rewound and redelivered.
        """
        retrying = AsyncRetrying(
            stop=stop_after_attempt(retries + 1),
            wait=wait_exponential(multiplier=self._backoff_s, max=self._backoff_s * 16),
            retry=retry_if_not_exception_type(TRANSIENT_ERRORS),
            before_sleep=lambda state: log.warning(
                "%s: attempt %d failed for %d record(s): %r",
                self._service,
                state.attempt_number,
                len(batch),
                state.outcome.exception() if state.outcome else None,
            ),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._handler(batch)
        except TRANSIENT_ERRORS as e:
            await self._back_off_for_outage(e)
            raise
        except RetryError as e:
            failed = e.last_attempt.exception()
            return failed if isinstance(failed, Exception) else RuntimeError(str(failed))
        self._outages = 0
        return None

    async def _back_off_for_outage(self, error: BaseException) -> None:
        self._outages += 1
        delay = min(self._backoff_s * 5 * 2 ** (self._outages - 1), MAX_OUTAGE_BACKOFF_S)
        log.warning(
            "%s: dependency unavailable (%s); batch rewound, redelivered in %.1f s",
            self._service,
            type(error).__name__,
            delay,
        )
        await asyncio.sleep(delay)

    async def _dead_letter(
        self,
        record: ConsumedRecord,
        reason: str,
        error: BaseException | None = None,
        event_type: str | None = None,
    ) -> None:
        metrics.events_failed.add(
            1,
            {
                metrics.GROUP: self.group,
                metrics.DESTINATION: record.topic,
                metrics.EVENT_TYPE: event_type or record.headers.get("ce_type") or "unknown",
                metrics.ERROR_TYPE: type(error).__qualname__ if error else "Undecodable",
                "cop.failure": "dead_lettered" if error else "undecodable",
            },
        )
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(
                "dead-lettered",
                {"messaging.kafka.offset": record.offset, "error.type": reason[:200]},
            )
        await publish_dead_letter(self._bus, self._service, record, reason)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


async def publish_dead_letter(
    bus: EventBus, service: str, record: ConsumedRecord, reason: str
) -> None:
    """Park a record on `cop.dlq.<service>` as it came, with the error and where it came from."""
    log.error(
        "%s: dead-lettering %s[%d]@%d: %s",
        service,
        record.topic,
        record.partition,
        record.offset,
        reason[:500],
    )
    dlq_headers = {
        **record.headers,
        "cop_error": reason[:2000],
        "cop_original_topic": record.topic,
        "cop_original_partition": str(record.partition),
        "cop_original_offset": str(record.offset),
        "cop_service": service,
        "cop_failed_at": datetime.now(UTC).isoformat(),
    }
    try:
        await bus.broker.publish(
            record.value, bus.topic(dlq_topic(service)), key=record.key, headers=dlq_headers
        )
    except MessageSizeTooLargeError:
        # The value plus our headers no longer fits in a record: park where it was instead.
        dlq_headers["cop_value_omitted"] = f"{len(record.value)} bytes"
        await bus.broker.publish(
            b"", bus.topic(dlq_topic(service)), key=record.key, headers=dlq_headers
        )
