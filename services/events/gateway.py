"""The inbound gateway: other systems' CloudEvents, checked, deduplicated and routed.

An event is accepted when its envelope and data match the catalog, its `source` is a registered
system (or a path under it) and that system may emit its type. Accepted events go to their
domain topic with the partition key the catalog sets; rejected ones go to `cop.inbound.rejected`
with the reason. Nothing is dropped silently.

CloudEvents ids are unique per source only, while every consumer deduplicates by event id. So
the routed event gets a platform id derived from (`source`, `id`) — the same on every retry —
and keeps the sender's id in the `originalid` extension attribute.
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.events.adapters.sources import InboundLedger, Source, SourceRegistry
from shared.events.catalog import spec_for
from shared.events.codec import FieldError, InvalidEvent, parse_envelope, validate_data
from shared.events.topics import Topic
from shared.kafka import EventBus


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


class Gateway:
    def __init__(self, bus: EventBus, sources: SourceRegistry, ledger: InboundLedger) -> None:
        self._bus = bus
        self.sources = sources
        self._ledger = ledger

    async def accept(self, raw: Any, *, source: Source | None, via: str) -> Outcome:
        """Judge one event. `source` is the authenticated caller (HTTP), or None (Kafka)."""
        try:
            outcome = await self._route(raw, source)
        except InvalidEvent as e:
            outcome = Outcome(
                "rejected",
                id=_field(raw, "id"),
                type=_field(raw, "type"),
                reason=e.reason,
                errors=[err.as_dict() for err in e.errors],
            )
        if outcome.status == "rejected":
            await self._reject(raw, outcome, source, via)
        return outcome

    async def _route(self, raw: Any, source: Source | None) -> Outcome:
        if not isinstance(raw, (dict, bytes)):  # bytes: a Kafka record; dict: parsed HTTP JSON
            raise InvalidEvent("an event must be a JSON object")
        envelope = parse_envelope(raw)
        if source is None:
            source = await self.sources.by_name(envelope.source.split("/", 1)[0])
            if source is None:
                raise InvalidEvent(
                    "unregistered source",
                    [FieldError("source", f"{envelope.source!r} is not a registered system")],
                )
        if not source.owns(envelope.source):
            raise InvalidEvent(
                "source does not match the API key",
                [FieldError("source", f"must be {source.name!r} or start with {source.name}/")],
            )
        if spec_for(envelope.type) is None:
            raise InvalidEvent(
                "unknown event type",
                [FieldError("type", f"{envelope.type!r} is not in the catalog")],
            )
        if envelope.type not in source.types:
            raise InvalidEvent(
                "event type not allowed for this source",
                [FieldError("type", f"{source.name} may emit: {', '.join(sorted(source.types))}")],
            )
        decoded = validate_data(envelope)
        assert decoded is not None  # the type is in the catalog
        topic = str(decoded.spec.topic)
        routed = envelope.model_copy(
            update={"id": platform_id(envelope.source, envelope.id), "originalid": envelope.id}
        )
        outcome = Outcome(
            "accepted", id=envelope.id, event_id=routed.id, type=envelope.type, topic=topic
        )
        if not await self._ledger.claim(envelope.source, envelope.id, envelope.type):
            outcome.status = "duplicate"
            return outcome
        await self._bus.publish(routed)
        await self._ledger.published(envelope.source, envelope.id)
        return outcome

    async def _reject(self, raw: Any, outcome: Outcome, source: Source | None, via: str) -> None:
        original = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        record = {
            "reason": outcome.reason,
            "errors": outcome.errors,
            "source": source.name if source else _field(raw, "source"),
            "via": via,
            "rejected_at": datetime.now(UTC).isoformat(),
            "event": original,
        }
        await self._bus.broker.publish(
            json.dumps(record, default=str).encode(),
            self._bus.topic(str(Topic.INBOUND_REJECTED)),
            key=(record["source"] or "unknown").encode(),
            headers={"cop_reason": outcome.reason or "rejected", "cop_via": via},
        )


def platform_id(source: str, event_id: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{source}\n{event_id}"))


_ID_NAMESPACE = uuid.UUID("5b0e7c0e-6f1f-4a57-9d0c-3c0f9e4c2a61")


def _field(raw: Any, name: str) -> str | None:
    if isinstance(raw, (bytes, str)):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    value = raw.get(name) if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None
