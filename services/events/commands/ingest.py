"""The inbound gateway: other systems' CloudEvents, checked, deduplicated and routed.

An event is accepted when its envelope and data match the catalog, its `source` is a registered
system (or a path under it) and that system may emit its type. Accepted events go to their
domain topic with the partition key the catalog sets; rejected ones go to `cop.inbound.rejected`
with the reason and every wrong field (all checks run, not only up to the first that fails).
Nothing is dropped silently.

CI/CD systems send CDEvents (`shared/events/cdevents.py`): any 0.x version of the families the
platform reads, for a system registered for the family (`dev.cdevents.service.deployed`). Such
an event is keyed by its subject unless it carries a `partitionkey`, takes its context's
timestamp when it has no `time`, and is refused when a time of it lies more than a day ahead.

CloudEvents ids are unique per source only, while every consumer deduplicates by event id. So
the routed event gets a platform id derived from (`source`, `id`) — the same on every retry —
and keeps the sender's id in the `originalid` extension attribute.

An event too large for the broker is rejected (`EVENT_TOO_LARGE`) and recorded without its data;
so is any rejection whose record would not fit on `cop.inbound.rejected` whole.
"""

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import (
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, Span

from services.events.adapters.sources import (
    InboundLedger,
    Source,
    SourceRegistry,
    source_path_problem,
)
from shared.consumer import ConsumedRecord
from shared.events import cdevents
from shared.events.bindings import Headers, envelope_from_kafka
from shared.events.codec import (
    MAX_DEPTH,
    FieldError,
    Inspection,
    InvalidEvent,
    KafkaRecord,
    encode,
    ensure_depth,
    inspect_event,
    undecodable,
)
from shared.events.topics import Topic
from shared.kafka import EventBus
from shared.metrics import count_ingest
from shared.together import await_all

EVENT_TOO_LARGE = "event too large"
NOT_AN_OBJECT = "an event must be a JSON object"
ENVELOPE = "invalid CloudEvents envelope"
SPECVERSION = "required: the CloudEvents version the event follows, `1.0`"

PUBLISH_TIMEOUT_S = 10.0
"""How long the publishes of a run (see `Gateway._judge_all`) may wait for the broker before the
caller is told to retry (HTTP 503 with `Retry-After`; a `cop.inbound` batch is rewound): never an
acknowledgement of an unwritten event."""
_SIZE_ERRORS = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)

MAX_RECORD_BYTES = 1_048_576
"""The producer's `max_request_size` default: the largest record it sends (key, value, headers)."""

# Headers the broker client adds to every record (FastStream's content type and correlation
# id, the trace context), which the size check cannot see.
_HEADER_ALLOWANCE = 1024
_ATTRIBUTES_KEPT = ("specversion", "id", "source", "type", "subject", "time", "partitionkey")


@dataclass
class Outcome:
    status: str  # accepted | duplicate | rejected
    id: str | None = None
    event_id: str | None = None
    type: str | None = None
    topic: str | None = None
    reason: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}

    @property
    def too_large(self) -> bool:
        return self.status == "rejected" and self.reason == EVENT_TOO_LARGE


class Gateway:
    def __init__(
        self,
        bus: EventBus,
        sources: SourceRegistry,
        ledger: InboundLedger,
        *,
        max_record_bytes: int = MAX_RECORD_BYTES,
        publish_timeout_s: float = PUBLISH_TIMEOUT_S,
    ) -> None:
        self._bus = bus
        self.publish_timeout_s = publish_timeout_s
        self.sources = sources
        self._ledger = ledger
        self.max_record_bytes = max_record_bytes

    async def accept_all(
        self, events: Sequence[Any], *, source: Source | None, via: str
    ) -> list[Outcome]:
        """Judge a batch sent over HTTP (parsed JSON: structured-mode events, or one rebuilt
        from a binary-mode request by `shared.events.bindings.events_from_http`), outcomes in
        its order. `source` is the authenticated caller. See `_judge_all`."""
        return await self._judge_all([_Item(event) for event in events], source=source, via=via)

    async def accept_records(self, records: Sequence[ConsumedRecord]) -> None:
        """Judge a batch of `cop.inbound` records (structured or binary content mode; the
        `source` attribute names the system). See `_judge_all`."""
        items = [_Item(r.value, r.header_list or r.headers, r.key) for r in records]
        await self._judge_all(items, source=None, via="kafka")

    async def refuse(
        self, error: InvalidEvent, *, source: Source | None, via: str, size: int | None = None
    ) -> Outcome:
        """Record input that never became an event (not JSON, too large or deep, ...).

        Only the attributes known from the error (e.g. binary mode's headers) are recorded.
        """
        outcome = _rejected(error, error.attributes)
        event: dict[str, Any] = dict(error.attributes)
        if size is not None:
            event["size"] = size
        await self._reject(event or None, outcome, source, via, summarize=True)
        count_ingest(source.name if source else None, outcome.status, via)
        return outcome

    async def _judge_all(
        self, items: Sequence["_Item"], *, source: Source | None, via: str
    ) -> list[Outcome]:
        """Judge a batch, whatever its size, in a few steps for all its events rather than
        round trips per event or per partition key: every event is checked (CPU only, but for
        one registry look-up per system named), the rejected ones are recorded on
        `cop.inbound.rejected` together, then the routed ones are published in runs (see
        `_runs`; one run unless a (source, id) comes twice), each run claimed in the ledger in
        one round trip, handed to the producer in the batch's order (so each partition key's
        events keep their order) and acknowledged together (see `_publish_run`).

        A failure (an outage: HTTP answers 503, a `cop.inbound` batch is rewound) stops the
        batch there: what was not acknowledged stays pending in the ledger, so a retry
        publishes it."""
        systems: dict[str, Source | None] = {}  # registered systems looked up for this batch
        judged: list[_Judged] = []
        try:
            for item in items:
                judged.append(await self._judge(item, source, via, systems))
            await self._reject_all([j for j in judged if j.routed is None], source, via)
            for run in _runs(judged):
                too_large = await self._publish_run(run)
                await self._reject_all(too_large, source, via)
        finally:
            for j in judged:
                if j.span is not None:
                    j.span.end()
        _count(judged, source, via)
        return [j.outcome for j in judged]

    async def _judge(
        self, item: "_Item", source: Source | None, via: str, systems: dict[str, Source | None]
    ) -> "_Judged":
        """Check one event: routed (to be published) or rejected, never raised; a dependency
        outage raises. `item.raw` is parsed JSON (HTTP) or a Kafka record's value (bytes or
        None) with its headers and key, in structured or binary content mode."""
        raw = item.raw
        payload: Any = raw
        span: Span | None = None
        try:
            if raw is None or isinstance(raw, (bytes, bytearray, memoryview)):
                payload = _read_record(raw, item.headers, item.key)
            span = _sender_span(payload, via, item.headers)
            with trace.use_span(span, end_on_exit=False):
                outcome, routed = await self._route(payload, source, systems)
            return _Judged(payload, outcome, routed, span)
        except InvalidEvent as e:
            recorded = payload
            if payload is raw and (raw is None or isinstance(raw, (bytes, bytearray, memoryview))):
                # The record could not be read: its text, with the attributes known from its
                # headers (binary mode), stands for the event.
                text = None if raw is None else bytes(raw).decode(errors="replace")
                recorded = {**e.attributes, "data": text} if e.attributes else text
            outcome = _rejected(e, recorded if isinstance(recorded, dict) else e.attributes)
            return _Judged(payload, outcome, None, span, recorded, summarize=e.oversized)
        except BaseException:
            if span is not None:
                span.end()
            raise

    async def _route(
        self, payload: Any, source: Source | None, systems: dict[str, Source | None]
    ) -> tuple[Outcome, "_Routed"]:
        if not isinstance(payload, dict):
            raise InvalidEvent(NOT_AN_OBJECT)
        ensure_depth(payload, MAX_DEPTH)
        try:
            inspection = inspect_event(_as_judged(payload))
        except Exception as e:  # a bug must not turn bad input into a retry loop
            raise undecodable(e) from e
        failures = [inspection.envelope_error] if inspection.envelope_error else []
        if "specversion" not in payload:  # the envelope model defaults it for our own events
            failures.insert(0, InvalidEvent(ENVELOPE, [FieldError("specversion", SPECVERSION)]))
        wrong = {e.field for f in failures for e in f.errors}
        envelope = inspection.envelope
        ce_source = envelope.source if envelope else _text(payload, "source")
        ce_type = envelope.type if envelope else _text(payload, "type")
        bad_path = source_path_problem(ce_source) if ce_source and "source" not in wrong else None
        if bad_path:
            failures.append(InvalidEvent("invalid source", [FieldError("source", bad_path)]))
            ce_source = None
        if source is None and ce_source is not None and "source" not in wrong:
            source = await self._system(ce_source.split("/", 1)[0], systems)
            if source is None:
                failures.append(
                    InvalidEvent(
                        "unregistered source",
                        [FieldError("source", f"{ce_source!r} is not a registered system")],
                    )
                )
        if source is not None and ce_source is not None and not source.owns(ce_source):
            failures.append(
                InvalidEvent(
                    "source does not match the API key",
                    [FieldError("source", f"must be {source.name!r} or start with {source.name}/")],
                )
            )
        if ce_type is not None and "type" not in wrong:
            if inspection.spec is None:
                failures.append(
                    InvalidEvent(
                        "unknown event type",
                        [FieldError("type", f"{ce_type!r} is not in the catalog")],
                    )
                )
            elif source is not None and inspection.spec.type not in source.types:
                allowed = ", ".join(sorted(source.types))
                failures.append(
                    InvalidEvent(
                        "event type not allowed for this source",
                        [FieldError("type", f"{source.name} may emit: {allowed}")],
                    )
                )
        failures += [f for f in (inspection.data_error, inspection.key_error) if f]
        failures += _from_the_future(inspection)
        if failures:
            raise InvalidEvent.combine(failures)
        decoded = inspection.verdict()
        if decoded is None:  # not reached: an unknown type failed a check above
            raise InvalidEvent("unknown event type", [FieldError("type", "not in the catalog")])
        envelope = decoded.envelope
        routed = envelope.model_copy(
            update={"id": platform_id(envelope.source, envelope.id), "originalid": envelope.id}
        )
        record = encode(routed)
        self._check_size(record)
        outcome = Outcome(
            "accepted", id=envelope.id, event_id=routed.id, type=envelope.type, topic=record.topic
        )
        return outcome, _Routed(envelope.source, envelope.id, envelope.type, record)

    async def _system(self, name: str, systems: dict[str, Source | None]) -> Source | None:
        if name not in systems:
            systems[name] = await self.sources.by_name(name)
        return systems[name]

    async def _publish_run(self, run: list["_Judged"]) -> list["_Judged"]:
        """Publish a run of routed events (no (source, id) twice), in order: one ledger round
        trip to claim them (the ones published before are duplicates), every record handed to
        the producer one after the other, their acknowledgements awaited together (at most
        `publish_timeout_s` for all), one ledger write for the acknowledged ones. Returns the
        events the broker refused for their size, now rejected. An event claimed but not
        acknowledged stays pending in the ledger: a retry publishes it (again, if it got
        through after all: consumers deduplicate by event id)."""
        routed = [(j, j.routed) for j in run if j.routed is not None]
        fresh = await self._ledger.claim([(r.source, r.id, r.type) for _, r in routed])
        deadline = asyncio.get_running_loop().time() + self.publish_timeout_s
        sent: list[tuple[_Judged, _Routed, asyncio.Future[Any]]] = []
        too_large: list[_Judged] = []
        failure: BaseException | None = None
        try:
            async with asyncio.timeout_at(deadline):  # one timer for the run, not one per send
                for j, r in routed:
                    if (r.source, r.id) not in fresh:
                        j.outcome.status = "duplicate"
                        continue
                    try:
                        with trace.use_span(j.span, end_on_exit=False) if j.span else nullcontext():
                            future = await self._bus.send_record(r.record)
                    except _SIZE_ERRORS as e:
                        too_large.append(j.refused(_too_large(f"the broker refused it: {e}")))
                        continue
                    future.add_done_callback(_retrieve)
                    sent.append((j, r, future))
        except TimeoutError:
            failure = self._timed_out()
        except Exception as e:
            failure = e
        if sent:
            remaining = max(0.0, deadline - asyncio.get_running_loop().time())
            await asyncio.wait([f for _, _, f in sent], timeout=remaining)
        acknowledged: list[tuple[str, str]] = []
        for j, r, future in sent:
            if not future.done() or future.cancelled():
                failure = failure or self._timed_out()
            elif isinstance(error := future.exception(), _SIZE_ERRORS):
                too_large.append(j.refused(_too_large(f"the broker refused it: {error}")))
            elif error is not None:
                failure = failure or error
            else:
                acknowledged.append((r.source, r.id))
        await self._ledger.published(acknowledged)
        if failure is not None:
            raise failure
        return too_large

    def _timed_out(self) -> KafkaTimeoutError:
        return KafkaTimeoutError(f"no answer from the broker in {self.publish_timeout_s}s")

    def _check_size(self, record: KafkaRecord) -> None:
        size = record_size(record.key, record.value, record.headers)
        if size > self.max_record_bytes:
            raise _too_large(
                f"{size} bytes as a Kafka record, more than the broker accepts "
                f"({self.max_record_bytes} bytes)"
            )

    async def _reject_all(self, rejected: list["_Judged"], source: Source | None, via: str) -> None:
        """Record rejected events on `cop.inbound.rejected`, their publishes awaited together."""
        await await_all(
            self._reject(j.recorded, j.outcome, source, via, summarize=j.summarize)
            for j in rejected
        )

    async def _reject(
        self, event: Any, outcome: Outcome, source: Source | None, via: str, *, summarize: bool
    ) -> None:
        record: dict[str, Any] = {
            "reason": outcome.reason,
            "errors": outcome.errors,
            "source": source.name if source else _text(event, "source"),
            "via": via,
            "rejected_at": datetime.now(UTC).isoformat(),
            "event": _summary(event) if summarize else event,
        }
        key = (record["source"] or "unknown").encode()
        headers = {"cop_reason": outcome.reason or "rejected", "cop_via": via}
        value = json.dumps(record, default=str).encode()
        if not summarize and record_size(key, value, headers) > self.max_record_bytes:
            record["event"] = _summary(event)
            value = json.dumps(record, default=str).encode()
        await self._bus.broker.publish(
            value, self._bus.topic(str(Topic.INBOUND_REJECTED)), key=key, headers=headers
        )


def record_size(key: bytes | None, value: bytes | None, headers: Mapping[str, str]) -> int:
    """What the producer will count against its `max_request_size`, plus the headers it adds."""
    pairs = [(k, v.encode()) for k, v in headers.items()]
    estimate = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, pairs)
    return int(estimate) + _HEADER_ALLOWANCE


def _read_record(
    value: bytes | bytearray | memoryview | None, headers: Headers | None, key: bytes | str | None
) -> dict[str, Any]:
    try:
        return envelope_from_kafka(None if value is None else bytes(value), headers or {}, key=key)
    except InvalidEvent:
        raise
    except Exception as e:
        raise undecodable(e) from e


def _as_judged(payload: dict[str, Any]) -> dict[str, Any]:
    """The event as it is judged: a CDEvent with the key and time its CloudEvent may leave out
    (see `shared.events.cdevents.as_received`); any other event as it came."""
    event_type = payload.get("type")
    if isinstance(event_type, str) and cdevents.spec_for(event_type) is not None:
        return cdevents.as_received(payload)
    return payload


def _from_the_future(inspection: Inspection) -> list[InvalidEvent]:
    """A CDEvent whose times lie more than a day ahead: a wrong clock, refused naming them."""
    data = inspection.data
    if inspection.envelope is None or not isinstance(data, cdevents.CDEvent):
        return []
    ahead = cdevents.times_ahead(inspection.envelope.time, data, datetime.now(UTC))
    if not ahead:
        return []
    return [InvalidEvent("time in the future", [FieldError(f, m) for f, m in ahead])]


def platform_id(source: str, event_id: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{source}\n{event_id}"))


_ID_NAMESPACE = uuid.UUID("5b0e7c0e-6f1f-4a57-9d0c-3c0f9e4c2a61")


def _too_large(message: str) -> InvalidEvent:
    return InvalidEvent(EVENT_TOO_LARGE, [FieldError("event", message)], oversized=True)


def _rejected(error: InvalidEvent, known: Any) -> Outcome:
    return Outcome(
        "rejected",
        id=_text(known, "id"),
        type=_text(known, "type"),
        reason=error.reason,
        errors=[err.as_dict() for err in error.errors],
    )


def _summary(event: Any) -> dict[str, Any]:
    """The event without its payload: its attributes (shortened) and its size when known."""
    summary: dict[str, Any] = {}
    if isinstance(event, dict):
        summary = {
            name: value[:256]
            for name in _ATTRIBUTES_KEPT
            if isinstance(value := event.get(name), str)
        }
        if isinstance(event.get("size"), int):
            summary["size"] = event["size"]
        elif "data" in event:
            summary["size"] = len(json.dumps(event, default=str).encode())
    elif isinstance(event, str):
        summary["size"] = len(event.encode(errors="replace"))
    summary["payload"] = "omitted"
    return summary


def _text(event: Any, name: str) -> str | None:
    value = event.get(name) if isinstance(event, dict) else None
    return value if isinstance(value, str) else None


_tracer = trace.get_tracer("cop.events.gateway")


@dataclass
class _Item:
    """One event to judge as it came: parsed JSON (HTTP), or a Kafka record's value, headers
    and key."""

    raw: Any
    headers: Headers | None = None
    key: bytes | str | None = None


@dataclass(frozen=True)
class _Routed:
    """An event that passed every check: its ledger key (`source`, `id`) and its record."""

    source: str
    id: str
    type: str
    record: KafkaRecord


@dataclass
class _Judged:
    """One event judged: routed (to publish) or rejected (`recorded` on cop.inbound.rejected,
    its payload left out when `summarize`)."""

    payload: Any
    outcome: Outcome
    routed: _Routed | None
    span: Span | None
    recorded: Any = None
    summarize: bool = False

    def refused(self, error: InvalidEvent) -> "_Judged":
        """Rejected after all (the broker refused the record)."""
        self.outcome = _rejected(error, self.payload)
        self.routed, self.recorded, self.summarize = None, self.payload, error.oversized
        return self


def _runs(judged: list[_Judged]) -> list[list[_Judged]]:
    """A batch's routed events in runs that never hold one (source, id) twice: a repeat starts
    the next run, so it is judged a duplicate once the first is published. Runs are published
    one after the other, so every partition key's events keep the batch's order."""
    runs: list[list[_Judged]] = [[]]
    keys: set[tuple[str, str]] = set()
    for j in judged:
        if j.routed is None:
            continue
        key = (j.routed.source, j.routed.id)
        if key in keys:
            runs.append([])
            keys.clear()
        keys.add(key)
        runs[-1].append(j)
    return [run for run in runs if run]


def _retrieve(future: "asyncio.Future[Any]") -> None:
    """Mark a send's failure as seen (it is reported with its run, or not waited for)."""
    if not future.cancelled():
        future.exception()


def _sender_span(payload: Any, via: str, headers: Headers | None) -> Span:
    """A span per judged event in the sender's trace, until its publish is acknowledged: the
    CloudEvents distributed-tracing extension (`traceparent`, `tracestate` attributes) when the
    event has one, else the Kafka record's `traceparent` header, else the current span (the
    HTTP request, which continues the caller's `traceparent` header). Linked to the span it
    runs in when that differs."""
    parent: otel_context.Context | None = None
    ce_traceparent = _text(payload, "traceparent")
    if ce_traceparent:
        carrier = {"traceparent": ce_traceparent, "tracestate": _text(payload, "tracestate") or ""}
        parent = propagate.extract(carrier)
    elif via == "kafka" and headers:
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        parent = propagate.extract(
            {k: v.decode(errors="replace") if isinstance(v, bytes) else v or "" for k, v in pairs}
        )
    if parent is not None and not trace.get_current_span(parent).get_span_context().is_valid:
        parent = None
    current = trace.get_current_span().get_span_context()
    attributes = {"cop.via": via}
    for name, attribute in (("id", "cloudevents.event_id"), ("type", "cloudevents.event_type")):
        if value := _text(payload, name):
            attributes[attribute] = value
    return _tracer.start_span(
        f"ingest {_text(payload, 'type') or 'event'}",
        context=parent,
        links=[Link(current)] if parent is not None and current.is_valid else None,
        attributes=attributes,
    )


def _count(judged: list[_Judged], source: Source | None, via: str) -> None:
    """The batch's outcomes by system and status, one counter update per pair."""
    counts: Counter[tuple[str | None, str]] = Counter()
    for j in judged:
        if source is not None:
            name: str | None = source.name
        elif j.outcome.status != "rejected":  # routed, so a registered system sent it
            name = (_text(j.payload, "source") or "").split("/", 1)[0] or None
        else:
            name = None
        counts[name, j.outcome.status] += 1
    for (name, status), n in counts.items():
        count_ingest(name, status, via, n)
