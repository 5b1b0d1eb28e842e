"""How every service consumes the bus: batches, idempotent effects, bounded retries, then the DLQ.

Offsets are committed only after the batch's effects are durable (or the poison message is safely
on `cop.dlq.<service>`). A dependency outage is not poison: the batch is rewound and redelivered.
"""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, Span, SpanKind
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError

from shared.events.codec import DecodedEvent, InvalidEvent, decode
from shared.events.topics import dlq_topic
from shared.kafka import EventBus

log = logging.getLogger(__name__)

# A dependency that is down: the batch is rewound and redelivered, never dead-lettered.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    ServerSelectionTimeoutError,
    RedisConnectionError,
    ConnectionError,
    TimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    httpx.TransportError,
)


@dataclass(frozen=True)
class ConsumedEvent:
    """A decoded event with where it came from and the trace context it carried."""

    event: DecodedEvent
    topic: str
    partition: int
    offset: int
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def trace_context(self) -> otel_context.Context:
        return propagate.extract(self.headers)

    @contextmanager
    def span(self, tracer: trace.Tracer, name: str) -> Iterator[Span]:
        """A span that continues the producer's trace, so one request is one trace end to end."""
        with tracer.start_as_current_span(
            name,
            context=self.trace_context,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": self.topic,
                "messaging.message.id": self.event.id,
                "cloudevents.event_type": self.event.type,
            },
        ) as span:
            yield span


BatchHandler = Callable[[list[ConsumedEvent]], Awaitable[None]]


def record_headers(record: ConsumerRecord[Any, Any]) -> dict[str, str]:
    return {k: (v or b"").decode(errors="replace") for k, v in (record.headers or ())}


class EventConsumer:
    """Feeds one service's batch handler from its topics, with retries and a dead-letter queue."""

    def __init__(
        self,
        bus: EventBus,
        *,
        service: str,
        handler: BatchHandler,
        max_retries: int = 3,
        backoff_s: float = 0.2,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._bus = bus
        self._service = service
        self._handler = handler
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._tracer = tracer or trace.get_tracer(__name__)
        self._last_error: Exception | None = None

    def subscribe(self, *topics: str, group_id: str = "", max_records: int = 500) -> None:
        """Consume the contract topics (names without the bus's prefix) as one consumer group."""

        @self._bus.broker.subscriber(
            *(self._bus.topic(t) for t in topics),
            group_id=group_id or f"cop-{self._service}",
            batch=True,
            max_records=max_records,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            title=f"{self._service}:{'+'.join(topics)}",
            description=f"{self._service} applies these topics' events in batches",
        )
        async def consume(message: KafkaMessage) -> None:
            raw = message.raw_message
            records = raw if isinstance(raw, tuple) else (raw,)
            await self.process(records)

    async def process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        batch: list[ConsumedEvent] = []
        for record in records:
            headers = record_headers(record)
            try:
                decoded = decode(record.value, strict=False)
            except InvalidEvent as e:
                reason = json.dumps({"reason": f"invalid event: {e.reason}", **e.as_dict()})
                await self.dead_letter(record, headers, reason)
                continue
            if decoded is None:
                continue  # a type this version does not know: ignored, never a crash
            batch.append(
                ConsumedEvent(decoded, record.topic, record.partition, record.offset, headers)
            )
        if not batch:
            return
        links = [Link(trace.get_current_span(c.trace_context).get_span_context()) for c in batch]
        began = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"{self._service} apply batch",
            context=otel_context.Context(),
            links=links,
            attributes={"messaging.batch.message_count": len(batch)},
        ):
            if await self._with_retries(batch):
                log.debug(
                    "%s: applied %d event(s) in %.1f ms",
                    self._service,
                    len(batch),
                    (time.perf_counter() - began) * 1000,
                )
                return
            if len(batch) == 1:
                await self._dead_letter_event(batch[0])
                return
            # The batch keeps failing: find the poison event(s), one attempt each (the batch
            # was retried already; retrying every event again could outlast the poll interval).
            for consumed in batch:
                if not await self._with_retries([consumed], retries=0):
                    await self._dead_letter_event(consumed)

    async def _with_retries(self, batch: list[ConsumedEvent], retries: int | None = None) -> bool:
        retries = self._max_retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                await self._handler(batch)
                return True
            except TRANSIENT_ERRORS:
                log.warning("%s: dependency unavailable, batch will be redelivered", self._service)
                await asyncio.sleep(self._backoff_s * 5)
                raise
            except Exception as e:
                self._last_error = e
                log.warning(
                    "%s: attempt %d of %d failed for %d event(s): %r",
                    self._service,
                    attempt + 1,
                    retries + 1,
                    len(batch),
                    e,
                )
                if attempt < retries:
                    await asyncio.sleep(self._backoff_s * 2**attempt)
        return False

    async def _dead_letter_event(self, consumed: ConsumedEvent) -> None:
        error = self._last_error
        reason = f"{type(error).__name__}: {error}" if error else "handler failed"
        await publish_dead_letter(
            self._bus,
            self._service,
            key=consumed.event.envelope.partitionkey.encode(),
            value=consumed.event.envelope.model_dump_json(exclude_none=True).encode(),
            headers=consumed.headers,
            topic=consumed.topic,
            partition=consumed.partition,
            offset=consumed.offset,
            reason=reason,
        )

    async def dead_letter(
        self, record: ConsumerRecord[Any, Any], headers: dict[str, str], reason: str
    ) -> None:
        await publish_dead_letter(
            self._bus,
            self._service,
            key=record.key,
            value=record.value,
            headers=headers,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
        )


async def publish_dead_letter(
    bus: EventBus,
    service: str,
    *,
    key: bytes | None,
    value: bytes,
    headers: dict[str, str],
    topic: str,
    partition: int,
    offset: int,
    reason: str,
) -> None:
    """Park a message on `cop.dlq.<service>` with the error and where it came from."""
    log.error("%s: dead-lettering %s[%d]@%d: %s", service, topic, partition, offset, reason)
    dlq_headers = {
        **headers,
        "cop_error": reason[:2000],
        "cop_original_topic": topic,
        "cop_original_partition": str(partition),
        "cop_original_offset": str(offset),
        "cop_service": service,
        "cop_failed_at": datetime.now(UTC).isoformat(),
    }
    await bus.broker.publish(value, bus.topic(dlq_topic(service)), key=key, headers=dlq_headers)
