"""Where a service's event types meet their handlers: one typed registry per service.

A service lists, in one place, the catalog models it reacts to and the handler for each
(`EventHandlers.on(SessionHeld, session_held)`). The consumer hands it every decoded batch; the
registry gives each event to its handler as a typed `Fact`, inside a unit of work that the
service defines (staged writes for a projection, a delivery pipeline for the notifier) and
commits once per batch. Types nobody registered are skipped: consumers ignore what they do not
handle, never crash on it.

A handler runs in its event's trace: inside a span of its own (`<service> handle <type>`, child
of the producer's span) when that trace is sampled; under the producer's context, without a
span, when it is not (what it publishes stays in that unsampled trace); in the batch's span when
the record carries no trace. Its time is measured per batch and type (`cop.handler.duration`).
"""

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace

from shared import metrics
from shared.consumer import ConsumedEvent
from shared.events.catalog import EventData, spec_for_model

D = TypeVar("D", bound=EventData)


class UnitOfWork(Protocol):
    """What one batch's handlers write through; `commit` makes the batch's effects durable."""

    async def commit(self) -> None: ...


U = TypeVar("U", bound=UnitOfWork)


@dataclass(frozen=True)
class Fact(Generic[D]):
    """One consumed event as a handler sees it: the typed data and the envelope facts."""

    data: D
    event_id: str
    time: datetime
    source: str
    consumed: ConsumedEvent

    @classmethod
    def of(cls, consumed: ConsumedEvent) -> "Fact[Any]":
        attributes = consumed.event.attributes
        return Fact(
            consumed.event.data, attributes.id, attributes.time, attributes.source, consumed
        )


Handler = Callable[[Fact[D], U], Awaitable[None]]
Prepare = Callable[[Sequence[Fact[Any]], U], Awaitable[None]]


class EventHandlers(Generic[U]):
    """The typed registry: catalog model → handler, and how a batch becomes one unit of work."""

    def __init__(
        self,
        service: str,
        unit_of_work: Callable[[], U],
        *,
        tracer: trace.Tracer | None = None,
        prepare: Prepare[U] | None = None,
    ) -> None:
        """`prepare`, when given, sees the batch's handled facts before the first handler runs,
        with the batch's unit of work: to read at once what the handlers will ask for, or to
        note which events the batch applies."""
        self._service = service
        self._unit_of_work = unit_of_work
        self._prepare = prepare
        self._handlers: dict[type[EventData], Handler[Any, U]] = {}
        self._tracer = tracer or trace.get_tracer(__name__)

    def on(self, model: type[D], handler: Handler[D, U]) -> "EventHandlers[U]":
        if model in self._handlers:
            raise ValueError(f"{model.__name__} already has a handler")
        spec_for_model(model)  # raises for a model that is not in the catalog
        self._handlers[model] = handler
        return self

    @property
    def event_types(self) -> list[str]:
        """The catalog types this service handles, for documentation and tests."""
        return sorted(spec_for_model(m).type for m in self._handlers)

    async def __call__(self, batch: Sequence[ConsumedEvent]) -> None:
        """Handle a batch in order inside one unit of work, committed after the last event."""
        uow = self._unit_of_work()
        handled = [
            (handler, Fact.of(consumed))
            for consumed in batch
            if (handler := self._handlers.get(type(consumed.event.data))) is not None
        ]
        if self._prepare is not None and handled:
            await self._prepare([fact for _, fact in handled], uow)
        spent: dict[str, float] = {}
        for handler, fact in handled:
            consumed = fact.consumed
            record = consumed.record
            began = time.perf_counter()
            if record.sampled:
                with consumed.span(self._tracer, f"{self._service} handle {consumed.event.type}"):
                    await handler(fact, uow)
            elif record.producer.is_valid:
                token = otel_context.attach(record.trace_context)
                try:
                    await handler(fact, uow)
                finally:
                    otel_context.detach(token)
            else:
                await handler(fact, uow)
            event_type = consumed.event.type
            spent[event_type] = spent.get(event_type, 0.0) + time.perf_counter() - began
        if spent:
            group = handled[0][1].consumed.record.group
            for event_type, seconds in spent.items():
                metrics.handler_duration.record(
                    seconds, {metrics.GROUP: group, metrics.EVENT_TYPE: event_type}
                )
        await uow.commit()
