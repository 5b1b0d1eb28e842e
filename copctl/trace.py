"""`copctl trace EVENT_ID`: one event's trace as an indented tree, from the trace viewer's API
(Jaeger's HTTP query API: the local viewer of `make up TRACES=1`, or compose's Jaeger) or from
the span files the services write (`COP_TRACE_FILE`, `.local/traces/*.jsonl`).

An event is found by the spans that carry its id (`messaging.message.id`,
`cloudevents.event_id`); a 32-hex-digit trace id is taken as it is.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
ID_ATTRIBUTES = ("messaging.message.id", "cloudevents.event_id")
# Shown after a span's name when it has them: where a message went, what was called.
DETAIL_ATTRIBUTES = (
    "messaging.destination.name",
    "messaging.destination.partition.id",
    "messaging.kafka.offset",
    "messaging.batch.message_count",
    "db.collection.name",
    "db.operation.name",
    "http.response.status_code",
    "server.address",
    "cop.delivery.outcome",
)


class TraceNotFound(LookupError):
    pass


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    name: str
    start_us: int
    duration_us: int
    status: str  # OK, ERROR or UNSET
    attributes: dict[str, Any] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)  # linked trace ids


# --- the span files -------------------------------------------------------------------------


def _from_line(line: dict[str, Any]) -> Span:
    start, end = line.get("start_ns") or 0, line.get("end_ns") or 0
    return Span(
        trace_id=line["trace_id"],
        span_id=line["span_id"],
        parent_id=line.get("parent_span_id"),
        service=line.get("service") or "?",
        name=line["name"],
        start_us=start // 1000,
        duration_us=max(end - start, 0) // 1000,
        status=line.get("status") or "UNSET",
        attributes=line.get("attributes") or {},
        links=line.get("links") or [],
    )


def read_span_files(directory: Path) -> list[Span]:
    spans = []
    for path in sorted(directory.glob("*.jsonl")):
        for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if text.strip():
                try:
                    spans.append(_from_line(json.loads(text)))
                except (ValueError, KeyError):
                    continue
    return spans


def trace_ids_of(spans: Iterable[Span], event_id: str) -> list[str]:
    """The traces whose spans carry the event id, earliest first."""
    if TRACE_ID.match(event_id):
        return [event_id]
    first_seen: dict[str, int] = {}
    for span in spans:
        if any(span.attributes.get(a) == event_id for a in ID_ATTRIBUTES):
            first_seen[span.trace_id] = min(
                first_seen.get(span.trace_id, span.start_us), span.start_us
            )
    return sorted(first_seen, key=first_seen.__getitem__)


def trace_from_files(directory: Path, event_id: str) -> list[Span]:
    spans = read_span_files(directory)
    found = trace_ids_of(spans, event_id)
    if not found:
        raise TraceNotFound(f"no span in {directory} carries {event_id}")
    wanted = found[0]
    return [s for s in spans if s.trace_id == wanted]


# --- Jaeger's query API ---------------------------------------------------------------------


def _jaeger_status(tags: dict[str, Any]) -> str:
    code = str(tags.get("otel.status_code", "")).upper()
    if code in ("ERROR", "OK"):
        return code
    return "ERROR" if tags.get("error") in (True, "true") else "UNSET"


def _from_jaeger(data: dict[str, Any]) -> list[Span]:
    processes = data.get("processes", {})
    spans = []
    for raw in data.get("spans", []):
        tags = {t["key"]: t.get("value") for t in raw.get("tags", [])}
        parent = next(
            (r["spanID"] for r in raw.get("references", []) if r.get("refType") == "CHILD_OF"),
            None,
        )
        links = [
            r["traceID"] for r in raw.get("references", []) if r.get("refType") == "FOLLOWS_FROM"
        ]
        spans.append(
            Span(
                trace_id=raw["traceID"].rjust(32, "0"),
                span_id=raw["spanID"],
                parent_id=parent,
                service=processes.get(raw.get("processID"), {}).get("serviceName", "?"),
                name=raw["operationName"],
                start_us=int(raw.get("startTime", 0)),
                duration_us=int(raw.get("duration", 0)),
                status=_jaeger_status(tags),
                attributes=tags,
                links=links,
            )
        )
    return spans


class JaegerApi:
    """Jaeger's HTTP query API (`/api/services`, `/api/traces`), on :16686 by default."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s)

    def __enter__(self) -> "JaegerApi":
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def _get(self, path: str, **params: Any) -> Any:
        response = self._http.get(path, params=params)
        response.raise_for_status()
        return response.json().get("data")

    def trace(self, trace_id: str) -> list[Span]:
        try:
            found = self._get(f"/api/traces/{trace_id}")
        except httpx.HTTPStatusError as e:
            if e.response.status_code == 404:
                raise TraceNotFound(f"the viewer has no trace {trace_id}") from None
            raise
        return [s for t in found or [] for s in _from_jaeger(t)]

    def find(self, event_id: str, *, lookback: str = "48h") -> list[Span]:
        if TRACE_ID.match(event_id):
            return self.trace(event_id)
        candidates: dict[str, int] = {}
        for service in self._get("/api/services") or []:
            for attribute in ID_ATTRIBUTES:
                tags = json.dumps({attribute: event_id})
                found = self._get(
                    "/api/traces", service=service, tags=tags, lookback=lookback, limit=20
                )
                for t in found or []:
                    for span in _from_jaeger(t):
                        if span.attributes.get(attribute) == event_id:
                            start = candidates.get(span.trace_id, span.start_us)
                            candidates[span.trace_id] = min(start, span.start_us)
        if not candidates:
            raise TraceNotFound(f"the viewer has no span that carries {event_id}")
        return self.trace(min(candidates, key=candidates.__getitem__))


# --- the tree -------------------------------------------------------------------------------


def _duration(us: int) -> str:
    return f"{us / 1000:.1f} ms" if us < 1_000_000 else f"{us / 1_000_000:.2f} s"


def _details(span: Span) -> str:
    shown = [f"{a}={span.attributes[a]}" for a in DETAIL_ATTRIBUTES if a in span.attributes]
    return f"  [{', '.join(shown)}]" if shown else ""


def tree_lines(spans: list[Span]) -> list[str]:
    """Parents before children, siblings by start time; spans whose parent is elsewhere (another
    trace, or not exported) are roots."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in ids else None
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.start_us):
            status = "" if span.status == "UNSET" else f" {span.status}"
            lines.append(
                f"{'  ' * depth}{span.service}: {span.name} "
                f"({_duration(span.duration_us)}){status}{_details(span)}"
            )
            walk(span.span_id, depth + 1)

    walk(None, 0)
    return lines
