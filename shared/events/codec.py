"""Turning events into Kafka records and back: JSON body, record key and `ce_type` header."""

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared.events.catalog import EventData, EventSpec, spec_for
from shared.events.envelope import CONTENT_TYPE, CloudEvent

CE_TYPE_HEADER = "ce_type"
CONTENT_TYPE_HEADER = "content-type"


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with an event: where (a dotted path) and why."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class InvalidEvent(ValueError):
    """An event that breaks the contract, with every field that is wrong."""

    def __init__(self, reason: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = errors or []

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "errors": [e.as_dict() for e in self.errors]}


@dataclass(frozen=True)
class DecodedEvent:
    envelope: CloudEvent
    spec: EventSpec
    data: EventData

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def type(self) -> str:
        return self.envelope.type


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    key: bytes
    value: bytes
    headers: dict[str, str]


def field_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    return [
        FieldError(
            field=".".join(str(p) for p in (prefix, *e["loc"]) if p != ""),
            message=e["msg"],
        )
        for e in error.errors()
    ]


def encode(event: CloudEvent) -> KafkaRecord:
    spec = spec_for(event.type)
    if spec is None:
        raise InvalidEvent(f"unknown event type {event.type!r}")
    body = event.model_dump_json(exclude_none=True).encode()
    return KafkaRecord(
        topic=str(spec.topic),
        key=event.partitionkey.encode(),
        value=body,
        headers={CE_TYPE_HEADER: event.type, CONTENT_TYPE_HEADER: CONTENT_TYPE},
    )


def parse_envelope(raw: bytes | str | dict[str, Any]) -> CloudEvent:
    """Validate the envelope only; raises InvalidEvent with every wrong field."""
    try:
        if isinstance(raw, dict):
            return CloudEvent.model_validate(raw)
        return CloudEvent.model_validate_json(raw)
    except ValidationError as e:
        if any(err["type"] == "json_invalid" for err in e.errors()):
            raise InvalidEvent("body is not valid JSON") from e
        raise InvalidEvent("invalid CloudEvents envelope", field_errors(e)) from e


def validate_data(envelope: CloudEvent, *, strict: bool = True) -> DecodedEvent | None:
    """Check `data` against the catalog; None when the type is unknown (callers ignore it).

    `strict` refuses data fields the model does not know (input from people and other systems);
    consumers decode with `strict=False`, so a producer that added an optional field to a v1
    event does not get its events dead-lettered by older consumers.
    """
    spec = spec_for(envelope.type)
    if spec is None:
        return None
    payload = envelope.data
    if not strict:
        payload = {k: v for k, v in payload.items() if k in spec.model.model_fields}
    try:
        data = spec.model.model_validate(payload)
    except ValidationError as e:
        raise InvalidEvent(f"invalid data for {envelope.type}", field_errors(e, "data")) from e
    expected_key = spec.key(envelope.data)
    if envelope.partitionkey != expected_key:
        raise InvalidEvent(
            f"partitionkey must be the event's {'/'.join(spec.key_fields)}",
            [FieldError("partitionkey", f"expected {expected_key!r}")],
        )
    return DecodedEvent(envelope=envelope, spec=spec, data=data)


def decode(raw: bytes | str | dict[str, Any], *, strict: bool = True) -> DecodedEvent | None:
    """Envelope and data in one step. None for an unknown type; InvalidEvent for bad input."""
    return validate_data(parse_envelope(raw), strict=strict)
