"""OpenTelemetry set-up: one tracer and one meter provider per process, configured only by the
standard `OTEL_*` variables.

- `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`: the resource (the service name defaults to
  `cop-<service>`).
- `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER`: `otlp`, `console`, `none` (comma-separated).
  Unset, OTLP is used as soon as `OTEL_EXPORTER_OTLP_ENDPOINT` (or the per-signal
  `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `..._METRICS_ENDPOINT`) is set. OTLP goes over HTTP
  (protobuf), e.g. to a Collector on :4318 or the local trace viewer.
- `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`: the sampler (the SDK reads them);
  `OTEL_SPAN_LINK_COUNT_LIMIT`: links per span (default 1000 here, so that a batch span links
  every one of its 500 messages).
- `COP_TRACE_FILE=<path>`: finished spans appended as JSON lines as well, so a trace can be
  followed across the local processes without a viewer (the end-to-end tests and
  `copctl trace --files` read them).

Metrics are always readable at `/metrics` (Prometheus text format, see `shared.metrics`).
"""

import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TypeVar

from opentelemetry import metrics, trace
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)

log = logging.getLogger(__name__)

DEFAULT_LINK_LIMIT = 1000
E = TypeVar("E", SpanExporter, MetricExporter)


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span as one JSON object per line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [span_line(s) for s in spans]
        with self._lock, self._path.open("a", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def span_line(span: ReadableSpan) -> str:
    """One span as the JSON line `COP_TRACE_FILE` holds."""
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
            "status": span.status.status_code.name,
            "status_description": span.status.description,
            "attributes": {k: _plain(v) for k, v in (span.attributes or {}).items()},
            "links": [f"{link.context.trace_id:032x}" for link in span.links],
            "link_spans": [
                f"{link.context.trace_id:032x}-{link.context.span_id:016x}" for link in span.links
            ],
        }
    )


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return list(value) if isinstance(value, tuple) else value


def _named_exporters(signal: str) -> set[str]:
    """The exporters `OTEL_<SIGNAL>_EXPORTER` names; unset: OTLP when an endpoint is given."""
    named = os.environ.get(f"OTEL_{signal}_EXPORTER")
    if named is not None:
        return {n.strip().lower() for n in named.split(",") if n.strip()} - {"none"}
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"
    )
    return {"otlp"} if endpoint else set()


def _check_protocol(signal: str) -> None:
    protocol = os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol != "http/protobuf":
        log.warning("OTLP protocol %r is not installed; exporting over http/protobuf", protocol)


def _exporters(signal: str, *, otlp: Callable[[], E], console: Callable[[], E]) -> list[E]:
    """The exporters of one signal (`TRACES`, `METRICS`) the environment asks for, made."""
    named = _named_exporters(signal)
    made: list[E] = []
    if "otlp" in named:
        _check_protocol(signal)
        made.append(otlp())
    if "console" in named:
        made.append(console())
    return made


# The OTLP exporters are imported only when chosen: their import takes a quarter of a second.
def _otlp_span_exporter() -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _otlp_metric_exporter() -> MetricExporter:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


def resource(default_service_name: str) -> Resource:
    """`OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` win over the default name."""
    given = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    return Resource.create({} if given else {SERVICE_NAME: default_service_name})


def _tracer_provider(res: Resource) -> TracerProvider:
    links = int(os.environ.get("OTEL_SPAN_LINK_COUNT_LIMIT") or DEFAULT_LINK_LIMIT)
    provider = TracerProvider(resource=res, span_limits=SpanLimits(max_links=links))
    for exporter in _exporters("TRACES", otlp=_otlp_span_exporter, console=ConsoleSpanExporter):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if trace_file := os.environ.get("COP_TRACE_FILE"):
        # Written in batches off the request path: a file write per span (every MongoDB and
        # Redis command has one) costs more than the command.
        provider.add_span_processor(
            BatchSpanProcessor(JsonLinesSpanExporter(Path(trace_file)), schedule_delay_millis=200)
        )
    return provider


def _meter_provider(res: Resource) -> MeterProvider:
    exporters = _exporters("METRICS", otlp=_otlp_metric_exporter, console=ConsoleMetricExporter)
    # The Prometheus reader registers with prometheus_client's default registry: /metrics.
    readers: list[MetricReader] = [PrometheusMetricReader()]
    readers += [PeriodicExportingMetricReader(exporter) for exporter in exporters]
    return MeterProvider(resource=res, metric_readers=readers)


_provider: TracerProvider | None = None


def setup_telemetry(service_name: str) -> TracerProvider:
    """Build the process's tracer and meter providers once; instrument MongoDB and Redis clients.

    Must run before any MongoDB client is created: the PyMongo instrumentation registers a
    global command listener that only clients created afterwards pick up.
    """
    global _provider
    if _provider is not None:
        return _provider
    # HTTP and database spans and metrics under the stable semantic-convention names
    # (`http.server.request.duration`, `http.route`, `db.collection.name`, ...), unless the
    # operator chose otherwise.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http,database")
    res = resource(service_name)
    provider = _tracer_provider(res)
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(_meter_provider(res))
    PymongoInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return provider


def shutdown_telemetry() -> None:
    """Flush what the exporters still hold (a process about to exit)."""
    if _provider is not None:
        _provider.force_flush(5000)
    meter_provider = metrics.get_meter_provider()
    if isinstance(meter_provider, MeterProvider):
        meter_provider.force_flush(5000)


def untraced() -> AbstractContextManager[None]:
    """No MongoDB, Redis or HTTP client span inside: for polling loops, whose reads every
    second would each be a trace of their own. Spans started with an explicit parent inside
    inherit it, so wrap only the polling calls, not the work they hand out."""
    return suppress_instrumentation()
