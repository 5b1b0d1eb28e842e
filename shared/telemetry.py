"""OpenTelemetry set-up: one tracer provider per process, exporters chosen by `OTEL_*` variables.

- `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_TRACES_EXPORTER=otlp`): OTLP/HTTP, e.g. to a Collector.
- `OTEL_TRACES_EXPORTER=console`: spans printed to stdout.
- `COP_TRACE_FILE=<path>`: finished spans appended as JSON lines, so a trace can be followed across
  the local processes without a collector (the end-to-end tests read it).
"""

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span as one JSON object per line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [_span_line(s) for s in spans]
        with self._lock, self._path.open("a", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def _span_line(span: ReadableSpan) -> str:
    ctx = span.get_span_context()
    parent = span.parent
    return json.dumps(
        {
            "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
            "span_id": f"{ctx.span_id:016x}" if ctx else None,
            "parent_span_id": f"{parent.span_id:016x}" if parent else None,
            "name": span.name,
            "kind": span.kind.name,
            "service": span.resource.attributes.get(SERVICE_NAME),
            "start_ns": span.start_time,
            "end_ns": span.end_time,
            "attributes": {k: _plain(v) for k, v in (span.attributes or {}).items()},
            "links": [f"{link.context.trace_id:032x}" for link in span.links],
        }
    )


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return list(value) if isinstance(value, tuple) else value


_provider: TracerProvider | None = None


def setup_telemetry(service_name: str) -> TracerProvider:
    """Build the process's tracer provider once and instrument MongoDB and Redis clients.

    Must run before any MongoDB client is created: the PyMongo instrumentation registers a
    global command listener that only clients created afterwards pick up.
    """
    global _provider
    if _provider is not None:
        return _provider
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    exporters = os.environ.get("OTEL_TRACES_EXPORTER", "")
    if "otlp" in exporters or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if "console" in exporters:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    if trace_file := os.environ.get("COP_TRACE_FILE"):
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(Path(trace_file))))
    trace.set_tracer_provider(provider)
    PymongoInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return provider
