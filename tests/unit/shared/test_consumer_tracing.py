"""The consumer's spans, in memory: one span per batch linking every record's producer, a span
per record only where the record's trace is sampled, and each handler in its record's trace."""

import random
from typing import Any

from faststream.kafka import KafkaBroker
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext

from shared.consumer import ConsumedEvent, ConsumedRecord, EventConsumer, decode_event
from shared.events.catalog import BadgeAwarded
from shared.events.codec import encode
from shared.events.envelope import new_event
from shared.kafka import EventBus
from shared.messagebus import EventHandlers, Fact


def record(offset: int, sampled: bool | None) -> tuple[ConsumedRecord, SpanContext | None]:
    """A badge record; `sampled` None: without a trace header."""
    data = BadgeAwarded(member_id=f"m{offset}", badge="b", community_id="c1", reason="r")
    encoded = encode(new_event(data, source="test"))
    headers = dict(encoded.headers)
    producer = None
    if sampled is not None:
        trace_id, span_id = random.getrandbits(128), random.getrandbits(64)
        headers["traceparent"] = f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"
        producer = SpanContext(trace_id, span_id, is_remote=True)
    consumed = ConsumedRecord(
        "cop.recognition", 0, offset, encoded.key, encoded.value, headers, group="cop-test"
    )
    return consumed, producer


class Work:
    async def commit(self) -> None:
        return None


async def consume(records: list[ConsumedRecord]) -> tuple[list[Any], dict[int, SpanContext]]:
    """The finished spans, and the span context current in each record's handler."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    current: dict[int, SpanContext] = {}

    async def on_badge(fact: Fact[BadgeAwarded], uow: Work) -> None:
        current[fact.consumed.offset] = trace.get_current_span().get_span_context()

    handlers = EventHandlers("test", Work, tracer=tracer).on(BadgeAwarded, on_badge)
    consumer: EventConsumer[ConsumedEvent] = EventConsumer(
        EventBus(KafkaBroker("127.0.0.1:9")),
        service="test",
        handler=handlers,
        decoder=decode_event,
        tracer=tracer,
    )
    await consumer.process(records)
    return list(exporter.get_finished_spans()), current


async def test_only_the_records_of_sampled_traces_get_a_span_in_their_producers_trace() -> None:
    made = [record(0, True), record(1, False), record(2, None), record(3, True)]
    spans, current = await consume([r for r, _ in made])

    (batch,) = [s for s in spans if s.name == "process cop.recognition"]
    linked = {(link.context.trace_id, link.context.span_id) for link in batch.links}
    assert linked == {(p.trace_id, p.span_id) for _, p in made if p is not None}
    assert batch.attributes is not None
    assert batch.attributes["messaging.batch.message_count"] == 4

    handled = [s for s in spans if s.name == "test handle cop.badge.awarded.v1"]
    assert sorted(s.attributes["messaging.kafka.offset"] for s in handled if s.attributes) == [0, 3]
    for span in handled:
        assert span.attributes is not None
        producer = made[int(str(span.attributes["messaging.kafka.offset"]))][1]
        assert producer is not None
        assert span.parent is not None
        assert (span.context.trace_id, span.parent.span_id) == (
            producer.trace_id,
            producer.span_id,
        )
        assert [link.context.span_id for link in span.links] == [batch.context.span_id]
        assert span.attributes["messaging.consumer.group.name"] == "cop-test"
        assert span.attributes["cloudevents.event_type"] == "cop.badge.awarded.v1"
        assert current[int(str(span.attributes["messaging.kafka.offset"]))] == span.context

    # unsampled: no span, the handler runs in the producer's (unsampled) trace
    unsampled = made[1][1]
    assert unsampled is not None
    assert (current[1].trace_id, current[1].span_id) == (unsampled.trace_id, unsampled.span_id)
    assert not current[1].trace_flags.sampled
    # without a trace: in the batch span
    assert current[2] == batch.context


async def test_a_batch_of_one_trace_is_part_of_that_trace() -> None:
    first, producer = record(0, True)
    assert producer is not None
    headers = dict(first.headers)
    second = ConsumedRecord(
        "cop.recognition", 0, 1, first.key, first.value, headers, group="cop-test"
    )
    spans, _ = await consume([first, second])
    (batch,) = [s for s in spans if s.name == "process cop.recognition"]
    assert batch.parent is not None
    assert (batch.context.trace_id, batch.parent.span_id) == (producer.trace_id, producer.span_id)
