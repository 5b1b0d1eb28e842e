"""The platform's metric instruments, one place for their names and attributes.

Every service serves them at `/metrics` in the Prometheus text format (and exports them over
OTLP when `OTEL_METRICS_EXPORTER` / `OTEL_EXPORTER_OTLP_ENDPOINT` say so). In Prometheus the
dots become underscores and counters end in `_total`, e.g. `cop_events_consumed_total`.

| instrument | kind | attributes |
|---|---|---|
| `cop.events.consumed` | counter | `messaging.consumer.group.name`, `messaging.destination.name`, `cloudevents.event_type` |
| `cop.events.failed` | counter | the same, `error.type` and `cop.failure` (`undecodable`, `dead_lettered`) |
| `cop.handler.duration` | histogram (s) | `messaging.consumer.group.name`, `cloudevents.event_type`: one batch's handlers of one type |
| `cop.batch.duration` | histogram (s) | `messaging.consumer.group.name`, `cop.outcome` |
| `cop.consumer.lag` | gauge | `messaging.consumer.group.name`, `messaging.destination.name`, `messaging.destination.partition.id` |
| `cop.dlq.size` | gauge | `messaging.destination.name` |
| `cop.notifications` | counter | `channel.kind` (`email`, `slack`, ...), `outcome` |
| `cop.ingest.events` | counter | `cop.source`, `outcome` (`accepted`, `duplicate`, `rejected`), `cop.via` |
| `cop.chat.requests` | counter | `cop.chat.platform`, `outcome` (`answered`, `forged`, `stale`, `replayed`, `unchecked`) |
| `http.server.request.duration` | histogram (s) | `http.route`, `http.request.method`, `http.response.status_code` |
"""  # noqa: E501

import threading
from collections.abc import Iterable, Mapping

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

GROUP = "messaging.consumer.group.name"
DESTINATION = "messaging.destination.name"
PARTITION = "messaging.destination.partition.id"
EVENT_TYPE = "cloudevents.event_type"
ERROR_TYPE = "error.type"
CHANNEL_KIND = "channel.kind"
OUTCOME = "outcome"

PROMETHEUS_CONTENT_TYPE = CONTENT_TYPE_LATEST

_meter = metrics.get_meter("cop")

events_consumed = _meter.create_counter(
    "cop.events.consumed",
    unit="{event}",
    description="Events whose effects a consumer made durable, per type",
)
events_failed = _meter.create_counter(
    "cop.events.failed",
    unit="{event}",
    description="Records a consumer gave up on (dead-lettered), per type and error",
)
handler_duration = _meter.create_histogram(
    "cop.handler.duration",
    unit="s",
    description="Time the handlers of one batch took on its events of one type",
)
batch_duration = _meter.create_histogram(
    "cop.batch.duration",
    unit="s",
    description="Time a consumer took to apply one batch, retries and commit included",
)
notifications = _meter.create_counter(
    "cop.notifications",
    unit="{notification}",
    description="Notification deliveries per channel kind and outcome (delivered, failed, ...)",
)
ingest_events = _meter.create_counter(
    "cop.ingest.events",
    unit="{event}",
    description="Events the inbound gateway judged, per source system and outcome",
)
chat_requests = _meter.create_counter(
    "cop.chat.requests",
    unit="{request}",
    description="Chat slash-command requests per platform and outcome (answered, forged, ...)",
)


class Readings:
    """The last values of a gauge that a background task measures (Kafka lag, DLQ size)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[tuple[str, str], ...], int] = {}

    def replace(self, values: Mapping[tuple[tuple[str, str], ...], int]) -> None:
        with self._lock:
            self._values = dict(values)

    def update(self, values: Mapping[tuple[tuple[str, str], ...], int]) -> None:
        with self._lock:
            self._values.update(values)

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            items = list(self._values.items())
        return [Observation(value, dict(attrs)) for attrs, value in items]


consumer_lag = Readings()
dlq_size = Readings()
_meter.create_observable_gauge(
    "cop.consumer.lag",
    callbacks=[consumer_lag.observe],
    unit="{message}",
    description="Records a consumer group has yet to commit, per topic partition",
)
_meter.create_observable_gauge(
    "cop.dlq.size",
    callbacks=[dlq_size.observe],
    unit="{message}",
    description="Records parked on the service's dead-letter topic",
)


def count_notification(channel_kind: str, outcome: str) -> None:
    """One delivery attempt's outcome: `delivered`, `failed` (gave up), `retry`, ..."""
    notifications.add(1, {CHANNEL_KIND: channel_kind, OUTCOME: outcome})


def count_ingest(source: str | None, outcome: str, via: str, n: int = 1) -> None:
    ingest_events.add(n, {"cop.source": source or "unknown", OUTCOME: outcome, "cop.via": via})


def count_chat_request(platform: str, outcome: str) -> None:
    """`answered`, or why a request was refused before anything was parsed: `forged`,
    `stale`, `replayed`, `unchecked` (the replay store did not answer)."""
    chat_requests.add(1, {"cop.chat.platform": platform, OUTCOME: outcome})


def prometheus_text() -> bytes:
    """Every instrument of the process in the Prometheus text exposition format."""
    return generate_latest(REGISTRY)
