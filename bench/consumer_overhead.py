"""What the shared consumer costs per event, in process, with handlers that do nothing.

    python -m bench.consumer_overhead [--events 20000] [--repeats 3]

Catalog events of every type (`bench.mixed_events`), encoded as the services publish them, half
in structured and half in binary content mode, each with the `traceparent` header the producer
span puts on it, go as `ConsumedRecord`s in batches of 500 through `EventConsumer.process` and
an `EventHandlers` registry whose handlers and unit of work do nothing. The tracer provider is
set up as `shared.telemetry` sets it up (the SDK's parent-based sampler, a batch span processor,
here with an exporter that drops the spans); the metrics go to an SDK meter provider.

The figure is CPU time (`time.process_time`) per event, records made as the consumer makes
them included, for traces whose records are all sampled, one in ten, none, and records without
a trace. The breakdown runs the one-in-ten batches with tracing off, then with metrics off too,
and makes and decodes their records alone.
"""

import argparse
import asyncio
import gc
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from bench.mixed_events import mixed_events
from bench.report import figure, row, write_section
from bench.targets import TARGETS
from shared import metrics
from shared.consumer import ConsumedEvent, ConsumedRecord, EventConsumer, decode_event
from shared.events.catalog import CATALOG
from shared.events.codec import encode
from shared.events.envelope import CloudEvent
from shared.kafka import EventBus
from shared.messagebus import EventHandlers, Fact
from shared.telemetry import DEFAULT_LINK_LIMIT

BATCH = 500


class _DropSpans(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _NoWork:
    async def commit(self) -> None:
        return None


async def _nothing(fact: Fact[Any], uow: _NoWork) -> None:
    return None


def tracer_provider() -> TracerProvider:
    """As `shared.telemetry` builds it: default (parent-based, always on) sampler, a batch span
    processor, links up to `DEFAULT_LINK_LIMIT`."""
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: "cop-bench"}),
        span_limits=SpanLimits(max_links=DEFAULT_LINK_LIMIT),
    )
    provider.add_span_processor(BatchSpanProcessor(_DropSpans()))
    return provider


def _binary(event: CloudEvent) -> tuple[bytes, dict[str, str]]:
    """The event in binary content mode, as a CloudEvents SDK producer sends it."""
    headers = {
        "ce_specversion": event.specversion,
        "ce_id": event.id,
        "ce_source": event.source,
        "ce_type": event.type,
        "ce_time": event.time.isoformat().replace("+00:00", "Z"),
        "content-type": "application/json",
    }
    if event.subject:
        headers["ce_subject"] = event.subject
    return json.dumps(event.data, separators=(",", ":")).encode(), headers


@dataclass(frozen=True)
class Pipeline:
    """What is measured: the record type, a consumer made with a tracer, the decoder alone."""

    record: Callable[..., Any]
    consumer: Callable[[trace.Tracer], Any]
    decode: Callable[[Any], Any]


def records(
    events: Sequence[CloudEvent], *, sampled: float | None, seed: int = 3
) -> list[dict[str, Any]]:
    """The events as consumed records' fields, every other one in binary mode; `sampled`: the
    share of records whose trace is sampled (None: no trace header at all)."""
    rng = random.Random(seed)
    out = []
    for offset, event in enumerate(events):
        encoded = encode(event)
        if offset % 2:
            value, headers = _binary(event)
        else:
            value, headers = encoded.value, dict(encoded.headers)
        if sampled is not None:
            flags = "01" if rng.random() < sampled else "00"
            trace_id, span_id = rng.getrandbits(128), rng.getrandbits(64)
            headers["traceparent"] = f"00-{trace_id:032x}-{span_id:016x}-{flags}"
        out.append(
            {
                "topic": f"bench.{encoded.topic}",
                "partition": offset % 3,
                "offset": offset,
                "key": encoded.key,
                "value": value,
                "headers": headers,
                "group": "cop-bench",
                "header_list": tuple((k, v.encode()) for k, v in headers.items()),
            }
        )
    return out


def _consumer(tracer: trace.Tracer) -> EventConsumer[ConsumedEvent]:
    handlers: EventHandlers[_NoWork] = EventHandlers("bench", _NoWork, tracer=tracer)
    for spec in CATALOG.values():
        handlers.on(spec.model, _nothing)
    bus = EventBus(KafkaBroker("127.0.0.1:9"), topic_prefix="bench.")
    return EventConsumer(
        bus, service="bench", handler=handlers, decoder=decode_event, tracer=tracer
    )


CURRENT = Pipeline(ConsumedRecord, _consumer, decode_event)

SHARES: dict[str, float | None] = {
    "every trace sampled": 1.0,
    "1 trace in 10 sampled": 0.1,
    "no trace sampled": 0.0,
    "records without a trace": None,
}
TRACING_OFF = "1 trace in 10 sampled, tracing off"
METRICS_OFF = "1 trace in 10 sampled, tracing and metrics off"
DECODE = "decode alone"


Batches = list[list[dict[str, Any]]]


def _consume(pipeline: Pipeline, tracer: trace.Tracer, batch_list: Batches) -> list[float]:
    """Each batch's CPU seconds, its records made as the consumer makes them (fresh: a record
    keeps what it read of its headers)."""
    consumer = pipeline.consumer(tracer)

    async def all_batches() -> list[float]:
        spent = []
        for fields in batch_list:
            began = time.process_time()
            await consumer.process([pipeline.record(**f) for f in fields])
            spent.append(time.process_time() - began)
        return spent

    return asyncio.run(all_batches())


def _decode(pipeline: Pipeline, batch_list: Batches) -> list[float]:
    spent = []
    for fields in batch_list:
        began = time.process_time()
        for f in fields:
            pipeline.decode(pipeline.record(**f))
        spent.append(time.process_time() - began)
    return spent


class _Silent:
    def record(self, *args: Any, **kwargs: Any) -> None:
        return None

    def add(self, *args: Any, **kwargs: Any) -> None:
        return None


@contextmanager
def metrics_off() -> Iterator[None]:
    names = ("handler_duration", "batch_duration", "events_consumed", "events_failed")
    kept = {name: getattr(metrics, name) for name in names}
    for name in names:
        setattr(metrics, name, _Silent())
    try:
        yield
    finally:
        for name, instrument in kept.items():
            setattr(metrics, name, instrument)


def measure(
    pipelines: dict[str, Pipeline], n: int, repeats: int
) -> dict[str, dict[str, list[float]]]:
    """µs of CPU per event of each pipeline in each variant (`SHARES`, `TRACING_OFF`,
    `METRICS_OFF`, `DECODE`), the pipelines taking turns within each repeat.

    On a machine that other work shares, a run is slowed by whatever ran at the same time: each
    figure adds up, batch by batch, the quickest of the repeats (the last entry of a variant's
    list); the others are each repeat's total."""
    if not isinstance(otel_metrics.get_meter_provider(), MeterProvider):
        otel_metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    events = mixed_events(n, seed=5)
    provider = tracer_provider()
    traced = provider.get_tracer("cop.bench")
    untraced = trace.NoOpTracerProvider().get_tracer("cop.bench")
    prepared: dict[str, Batches] = {}
    for share_name, share in SHARES.items():
        fields = records(events, sampled=share)
        prepared[share_name] = [fields[i : i + BATCH] for i in range(0, len(fields), BATCH)]
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in pipelines}
    # A service holds a batch, not 20,000 events' fields per variant: keep the inputs out of
    # the collector's way, or every collection of the oldest generation walks them all.
    gc.collect()
    gc.freeze()

    per_batch: dict[tuple[str, str], list[list[float]]] = {}
    for _ in range(repeats):
        for name, pipeline in pipelines.items():
            runs: dict[str, list[float]] = {}
            for share_name, batch_list in prepared.items():
                runs[share_name] = _consume(pipeline, traced, batch_list)
                provider.force_flush()
            typical = prepared["1 trace in 10 sampled"]
            runs[TRACING_OFF] = _consume(pipeline, untraced, typical)
            with metrics_off():
                runs[METRICS_OFF] = _consume(pipeline, untraced, typical)
            runs[DECODE] = _decode(pipeline, typical)
            for variant, spent in runs.items():
                per_batch.setdefault((name, variant), []).append(spent)
                samples[name].setdefault(variant, []).append(sum(spent) / len(events) * 1e6)
    for (name, variant), all_runs in per_batch.items():
        quickest = sum(min(times) for times in zip(*all_runs, strict=True))
        samples[name][variant].append(quickest / len(events) * 1e6)
    provider.shutdown()
    gc.unfreeze()
    return samples


def breakdown(samples: dict[str, list[float]], label: str = "") -> list[dict[str, Any]]:
    median = {name: values[-1] for name, values in samples.items()}
    typical = median["1 trace in 10 sampled"]
    rows = [
        {
            **figure(f"{label}{name}, µs CPU/event", samples[name][:-1], "µs", digits=1),
            "value": round(median[name], 1),
        }
        for name in SHARES
    ]
    parts = {
        "records made and decoded": median[DECODE],
        "spans (1 trace in 10 sampled)": typical - median[TRACING_OFF],
        "metrics": median[TRACING_OFF] - median[METRICS_OFF],
        "dispatch (consumer and registry, the rest)": median[METRICS_OFF] - median[DECODE],
    }
    return rows + [row(f"{label}of which {k}", round(v, 1), "µs") for k, v in parts.items()]


def _largest_parts(rows: list[dict[str, Any]]) -> str:
    parts = sorted((r for r in rows if "of which" in r["metric"]), key=lambda r: -r["value"])
    return "largest: " + "; ".join(
        f"{r['metric'].removeprefix('of which ')} {r['value']} µs" for r in parts[:2]
    )


def bench_consumer_overhead(n: int = 20_000, repeats: int = 3) -> dict[str, Any]:
    samples = measure({"": CURRENT}, n, repeats)[""]
    rows = breakdown(samples)
    median = {name: values[-1] for name, values in samples.items()}
    typical = median["1 trace in 10 sampled"]
    goal = TARGETS["consumer_us"].judge(
        typical,
        detail=f"every trace sampled: {median['every trace sampled']:.1f} µs; none: "
        f"{median['no trace sampled']:.1f} µs",
        why=_largest_parts(rows),
    )
    notes = [
        f"{n:,} events of every catalog type, half in binary content mode, in batches of "
        f"{BATCH}, each its own trace; each figure is the sum over the batches of the quickest "
        f"of {repeats} runs (min-max: the runs' totals)"
    ]
    return {"rows": rows, "goals": [goal], "notes": notes, "rss": {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    result = bench_consumer_overhead(args.events, args.repeats)
    write_section("consumer_overhead", "The shared consumer's cost per event", result)


if __name__ == "__main__":
    main()
