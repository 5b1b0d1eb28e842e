"""Turning events into Kafka records and back: JSON body, record key and `ce_type` header.

Decoding never raises anything but `InvalidEvent` for bad input: text that is not JSON, larger
than `max_bytes` or nested deeper than `max_depth`, or an event that breaks the envelope, its
data's schema or the partition-key rule — with every wrong field at once, not only the first.
The protocol bindings (CloudEvents binary content mode over Kafka and HTTP, batches) are in
`shared.events.bindings`.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ValidationError, create_model
from pydantic_core import from_json

from shared.events.catalog import EventData, EventSpec, spec_for
from shared.events.envelope import CONTENT_TYPE, CloudEvent

log = logging.getLogger(__name__)

CE_TYPE_HEADER = "ce_type"
CONTENT_TYPE_HEADER = "content-type"

MAX_EVENT_BYTES = 1_048_576
"""Default size limit of one event's JSON: Kafka's default maximum message size.

The producer refuses records over `max.request.size` (aiokafka's and FastStream's
`max_request_size`, 1,048,576 bytes) and the broker refuses batches over `message.max.bytes`
(1,048,588 bytes: 1 MiB plus 12 bytes of batch overhead), so a larger event could never be put
on the bus anyway.
"""

MAX_DEPTH = 64
"""Default limit of nested arrays and objects in one event (the envelope counts as one level)."""

_DECODE_FAILED = "could not decode the event"


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with an event: where (a dotted path) and why."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class InvalidEvent(ValueError):
    """An event that breaks the contract, with every field that is wrong.

    `attributes` holds what is known of the event when it could not be read whole (e.g. the
    `ce-*` headers of a binary-mode message whose data is not JSON), so that a rejection can
    still say which event it was. `oversized` marks input refused for its size: whoever records
    the rejection must leave the payload out.
    """

    def __init__(
        self,
        reason: str,
        errors: list[FieldError] | None = None,
        *,
        attributes: dict[str, str] | None = None,
        oversized: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = errors or []
        self.attributes = attributes or {}
        self.oversized = oversized

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "errors": [e.as_dict() for e in self.errors]}

    @classmethod
    def combine(cls, failures: Sequence["InvalidEvent"]) -> "InvalidEvent":
        """One error for several failed checks: the first check's reason, every wrong field."""
        if len(failures) == 1:
            return failures[0]
        first = failures[0]
        return cls(
            first.reason,
            [error for failure in failures for error in failure.errors],
            attributes=first.attributes,
            oversized=first.oversized,
        )


class DecodedEvent:
    """A valid event of a catalog type: its envelope, its spec and its data as the model.

    Decoded in one pass (`judge_event`), the attributes come from the typed envelope and the
    plain `envelope` (with `data` as received) is made only when asked for: a consumer reads
    the id, type, time and source, and the typed data.
    """

    __slots__ = ("_envelope", "_raw_data", "_typed", "data", "spec")

    def __init__(
        self,
        envelope: CloudEvent | None,
        spec: EventSpec,
        data: EventData,
        *,
        typed: CloudEvent | None = None,
        raw_data: dict[str, Any] | bytes | None = None,
    ) -> None:
        """`envelope`, or else `typed` (the typed envelope) and what it was made of: the
        event's `data` object or the whole event's JSON text."""
        self._envelope = envelope
        self._typed = typed
        self._raw_data = raw_data
        self.spec = spec
        self.data = data

    @property
    def attributes(self) -> CloudEvent:
        """The envelope's attributes (`data` aside): the plain envelope or the typed one."""
        return self._typed if self._typed is not None else self.envelope

    @property
    def envelope(self) -> CloudEvent:
        if self._envelope is None:
            assert self._typed is not None
            assert self._raw_data is not None
            raw = self._raw_data
            data = from_json(raw)["data"] if isinstance(raw, bytes) else raw
            self._envelope = _plain_envelope(self._typed, data)
        return self._envelope

    @property
    def id(self) -> str:
        return self.attributes.id

    @property
    def type(self) -> str:
        return self.attributes.type

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DecodedEvent):
            return NotImplemented
        return (self.envelope, self.spec, self.data) == (other.envelope, other.spec, other.data)

    __hash__ = None  # type: ignore[assignment]  # equal by value, like the models it holds

    def __repr__(self) -> str:
        return f"DecodedEvent(envelope={self.envelope!r}, spec={self.spec!r}, data={self.data!r})"


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    key: bytes
    value: bytes
    headers: dict[str, str]


def field_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    return [
        FieldError(
            field=".".join(str(p) for p in (prefix, *e["loc"]) if p != "") or "body",
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


# --- JSON with limits ---


def load_json(
    raw: bytes | bytearray | memoryview | str,
    *,
    max_bytes: int = MAX_EVENT_BYTES,
    max_depth: int = MAX_DEPTH,
    what: str = "body",
) -> Any:
    """Parse JSON text within limits; InvalidEvent naming `what` when it cannot be.

    Never raises RecursionError: the parser (pydantic-core's) stops at 200 levels by itself, and
    anything deeper than `max_depth` is refused. NaN and Infinity are not JSON and are refused.
    """
    text = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if len(text) > max_bytes:
        raise InvalidEvent(
            f"{what} too large",
            [FieldError(what, f"{len(text)} bytes, more than {max_bytes}")],
            oversized=True,
        )
    try:
        value = from_json(text, allow_inf_nan=False)
    except ValueError as e:
        if "recursion limit" in str(e):
            raise _too_deep(what, max_depth) from None
        raise InvalidEvent(f"{what} is not valid JSON", [FieldError(what, str(e))]) from None
    # Few brackets cannot nest deeply: most events skip the walk.
    if text.count(b"[") + text.count(b"{") > max_depth:
        ensure_depth(value, max_depth, what)
    return value


def ensure_depth(value: Any, max_depth: int = MAX_DEPTH, what: str = "body") -> None:
    """InvalidEvent when `value` nests arrays and objects more than `max_depth` levels deep."""
    if not isinstance(value, (dict, list)):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > max_depth:
            raise _too_deep(what, max_depth)
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))


def _too_deep(what: str, max_depth: int) -> InvalidEvent:
    return InvalidEvent(
        f"{what} nested too deeply",
        [FieldError(what, f"more than {max_depth} levels of nested arrays and objects")],
    )


# --- judging a structured-mode event ---


@dataclass(frozen=True)
class Inspection:
    """One event checked stage by stage: envelope, data, partition key — each stage's failure.

    Every stage runs even when an earlier one failed (as far as the input allows), so that an
    answer can name every wrong field at once. `spec` is None for a type not in the catalog.
    """

    envelope: CloudEvent | None
    spec: EventSpec | None
    data: EventData | None
    envelope_error: InvalidEvent | None = None
    data_error: InvalidEvent | None = None
    key_error: InvalidEvent | None = None

    @property
    def failures(self) -> list[InvalidEvent]:
        return [f for f in (self.envelope_error, self.data_error, self.key_error) if f]

    def verdict(self) -> DecodedEvent | None:
        """The decoded event; None for an unknown type; InvalidEvent with every wrong field."""
        if self.failures:
            raise InvalidEvent.combine(self.failures)
        if self.spec is None or self.envelope is None or self.data is None:
            return None
        return DecodedEvent(self.envelope, self.spec, self.data)


def judge_event(payload: Any, *, strict: bool = True) -> DecodedEvent | None:
    """`inspect_event(payload, strict=strict).verdict()`, in one validation for the common case.

    An event of a catalog type is validated in one pass against its typed envelope (the
    envelope with `data` typed as the catalog's model, see `typed_envelope`). Whatever that pass
    refuses or cannot settle (an unknown type, a wrong field, an unknown data field, a
    partition key that is not the catalog's) is judged again stage by stage by
    `inspect_event`: its verdict, and its error messages, are the only ones.
    """
    if type(payload) is dict and type(payload.get("data")) is dict:
        event_type = payload.get("type")
        spec = spec_for(event_type) if type(event_type) is str else None
        # (A CDEvents family's spec serves every version of its type: judged stage by stage.)
        if spec is not None and spec.type == event_type:
            try:
                typed = typed_envelope(spec.type).model_validate(payload)
            except ValidationError:
                typed = None
            if typed is not None and _keyed_by_catalog(spec, typed):
                data: EventData = typed.data  # type: ignore[assignment]  # the typed `data`
                return DecodedEvent(None, spec, data, typed=typed, raw_data=payload["data"])
    return inspect_event(payload, strict=strict).verdict()


def judge_json(
    text: bytes, event_type: str, *, max_bytes: int = MAX_EVENT_BYTES, max_depth: int = MAX_DEPTH
) -> DecodedEvent | None:
    """A structured-mode event of `event_type` straight from its JSON text, in one pass; None
    when this pass cannot settle it (not that type, not valid, too large, maybe too deep, NaN
    or Infinity in it, no partition key): `load_json` and `judge_event` judge it then."""
    spec = spec_for(event_type)
    if (
        spec is None
        or spec.type != event_type
        or len(text) > max_bytes
        or text.count(b"[") + text.count(b"{") > max_depth
        or b"NaN" in text
        or b"Infinity" in text
    ):
        return None
    try:
        typed = typed_envelope(spec.type).model_validate_json(text)
    except ValidationError:
        return None
    if not _keyed_by_catalog(spec, typed):
        return None
    data: EventData = typed.data  # type: ignore[assignment]  # the typed `data`
    return DecodedEvent(None, spec, data, typed=typed, raw_data=text)


@cache
def typed_envelope(event_type: str) -> type[CloudEvent]:
    """The envelope of one catalog type with `data` typed as its model, made from both (the
    catalog and `CloudEvent` stay the one definition of each)."""
    spec = spec_for(event_type)
    if spec is None:
        raise KeyError(event_type)
    this_type: Any = Literal[spec.type]  # the typed envelope takes no other
    return create_model(
        f"{spec.model.__name__}Event",
        __base__=CloudEvent,
        type=(this_type, ...),
        data=(spec.model, ...),
    )


def _keyed_by_catalog(spec: EventSpec, typed: CloudEvent) -> bool:
    """The partition key is the one the catalog derives from the data (else `inspect_event`
    judges it and names the key it expects)."""
    for name in spec.key_fields:
        value = getattr(typed.data, name, None)
        if value is not None:
            return isinstance(value, str) and typed.partitionkey == value
    return False


_ENVELOPE_FIELDS = tuple(name for name in CloudEvent.model_fields if name != "data")


def _plain_envelope(typed: BaseModel, raw_data: dict[str, Any]) -> CloudEvent:
    """The validated typed envelope as the plain `CloudEvent` `inspect_event` would give,
    without validating it again: the same attributes, extensions and `data` as received."""
    attributes = typed.__dict__
    return CloudEvent.model_construct(
        typed.model_fields_set,
        **{name: attributes[name] for name in _ENVELOPE_FIELDS},
        **(typed.__pydantic_extra__ or {}),
        data=dict(raw_data),
    )


def inspect_event(payload: Any, *, strict: bool = True) -> Inspection:
    """Check a structured-mode event (parsed JSON) against the envelope and the catalog.

    `strict` refuses data fields the model does not know (input from people and other systems);
    consumers decode with `strict=False`, so a producer that added an optional field to a v1
    event does not get its events dead-lettered by older consumers.
    """
    envelope: CloudEvent | None = None
    envelope_error = None
    try:
        envelope = CloudEvent.model_validate(payload)
    except ValidationError as e:
        envelope_error = InvalidEvent("invalid CloudEvents envelope", field_errors(e))
    attributes = payload if isinstance(payload, dict) else {}
    event_type = envelope.type if envelope else attributes.get("type")
    spec = spec_for(event_type) if isinstance(event_type, str) else None
    raw_data = envelope.data if envelope else attributes.get("data")
    if spec is None or not isinstance(raw_data, dict):
        # Unknown type (ignored by consumers) or no data object (the envelope error says so).
        return Inspection(envelope, spec, None, envelope_error)
    partitionkey = envelope.partitionkey if envelope else attributes.get("partitionkey")
    data, data_error, key_error = _check_data(spec, raw_data, partitionkey, strict=strict)
    return Inspection(envelope, spec, data, envelope_error, data_error, key_error)


def _check_data(
    spec: EventSpec, raw_data: dict[str, Any], partitionkey: Any, *, strict: bool
) -> tuple[EventData | None, InvalidEvent | None, InvalidEvent | None]:
    payload = raw_data
    if not strict:
        known = spec.model.model_fields  # read once: each access goes through a descriptor
        payload = {k: v for k, v in raw_data.items() if k in known}
    data = data_error = key_error = None
    try:
        data = spec.model.model_validate(payload)
    except ValidationError as e:
        data_error = InvalidEvent(f"invalid data for {spec.type}", field_errors(e, "data"))
    if spec.keyed_by_sender:
        return data, data_error, None
    key_field = next((k for k in spec.key_fields if raw_data.get(k) is not None), None)
    wrong = {e.field for e in data_error.errors} if data_error else set()
    # No key field (the data error names it), a wrong key field (ditto) or no partitionkey at
    # all (the envelope error names it): nothing to compare.
    if key_field and f"data.{key_field}" not in wrong and isinstance(partitionkey, str):
        expected = spec.key(raw_data)
        if partitionkey and partitionkey != expected:
            key_error = InvalidEvent(
                f"partitionkey must be the event's {'/'.join(spec.key_fields)}",
                [FieldError("partitionkey", f"expected {expected!r}")],
            )
    return data, data_error, key_error


def parse_envelope(
    raw: bytes | str | dict[str, Any],
    *,
    max_bytes: int = MAX_EVENT_BYTES,
    max_depth: int = MAX_DEPTH,
) -> CloudEvent:
    """Validate the envelope only; raises InvalidEvent with every wrong field."""
    payload = _payload(raw, max_bytes=max_bytes, max_depth=max_depth)
    try:
        return CloudEvent.model_validate(payload)
    except ValidationError as e:
        raise InvalidEvent("invalid CloudEvents envelope", field_errors(e)) from e


def validate_data(envelope: CloudEvent, *, strict: bool = True) -> DecodedEvent | None:
    """Check `data` and the partition key against the catalog; None when the type is unknown.

    Raises InvalidEvent naming every wrong data field and, at the same time, a `partitionkey`
    that is not the catalog's key.
    """
    spec = spec_for(envelope.type)
    if spec is None:
        return None
    data, data_error, key_error = _check_data(
        spec, envelope.data, envelope.partitionkey, strict=strict
    )
    return Inspection(envelope, spec, data, None, data_error, key_error).verdict()


def decode(
    raw: bytes | str | dict[str, Any],
    *,
    strict: bool = True,
    max_bytes: int = MAX_EVENT_BYTES,
    max_depth: int = MAX_DEPTH,
) -> DecodedEvent | None:
    """A structured-mode event in one step. None for an unknown type.

    Anything else wrong — not JSON, too large, too deep, envelope, data, partition key — raises
    InvalidEvent naming every wrong field; never another exception.
    """
    try:
        payload = _payload(raw, max_bytes=max_bytes, max_depth=max_depth)
        return judge_event(payload, strict=strict)
    except InvalidEvent:
        raise
    except Exception as e:
        raise undecodable(e) from e


def undecodable(error: Exception) -> InvalidEvent:
    """An unexpected failure while decoding, as InvalidEvent: bad input must never stall."""
    log.warning("decoding raised %r; treated as an invalid event", error, exc_info=error)
    return InvalidEvent(_DECODE_FAILED, [FieldError("body", f"{type(error).__name__}: {error}")])


def _payload(raw: bytes | str | dict[str, Any], *, max_bytes: int, max_depth: int) -> Any:
    if isinstance(raw, dict):
        ensure_depth(raw, max_depth)
        return raw
    return load_json(raw, max_bytes=max_bytes, max_depth=max_depth)
