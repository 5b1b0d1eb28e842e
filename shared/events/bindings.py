"""CloudEvents protocol bindings: Kafka records and HTTP requests, in every content mode.

- **Structured mode**: the whole event is JSON in the record value / request body, with content
  type `application/cloudevents+json`. A JSON value without that content type is read the same
  way (a record with no headers, an HTTP body sent as `application/json`).
- **Binary mode**: the attributes travel in `ce_*` Kafka headers / `ce-*` HTTP headers
  (percent-encoded over HTTP), `datacontenttype` in `content-type`, and the value / body is the
  data alone. Over Kafka the record key stands for `partitionkey` when no `ce_partitionkey`
  header is sent (the binding maps that attribute to the key).
- **Batched mode** (HTTP only): `application/cloudevents-batch+json`, a JSON array of
  structured-mode events. A plain JSON array is read as a batch too.

A Kafka record counts as binary mode when its content type is not `application/cloudevents*`
and it carries a `ce_*` header other than `ce_type` — the platform's own structured records
carry `ce_type` as a routing hint. Over HTTP any `ce-*` header means binary mode unless the
content type says structured or batched (the HTTP binding's rule). In binary mode an attribute
header sent twice (`ce-id` twice) is refused: which value is meant cannot be known.

Everything here raises `InvalidEvent` for bad input, never another exception.
"""

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from shared.events.codec import (
    MAX_DEPTH,
    MAX_EVENT_BYTES,
    DecodedEvent,
    FieldError,
    InvalidEvent,
    ensure_depth,
    judge_event,
    judge_json,
    load_json,
    undecodable,
)

STRUCTURED_JSON = "application/cloudevents+json"
BATCH_JSON = "application/cloudevents-batch+json"
_STRUCTURED_PREFIX = "application/cloudevents"
_BATCH_PREFIX = "application/cloudevents-batch"
_JSON = "application/json"
KAFKA_PREFIX = "ce_"
HTTP_PREFIX = "ce-"

# CloudEvents attribute names are lower-case letters and digits; `data` never travels in a
# header and `datacontenttype` travels as `content-type`.
_ATTRIBUTE_NAME = re.compile(r"[a-z0-9]{1,20}")
_NOT_HEADER_ATTRIBUTES = frozenset({"data", "data_base64", "datacontenttype"})

Headers = Mapping[str, str | bytes | None] | Iterable[tuple[str, str | bytes | None]]
"""Kafka headers as a mapping (`record_headers(record)`) or as aiokafka's list of pairs."""


class UnsupportedMediaType(InvalidEvent):
    """An event format other than JSON (e.g. `application/cloudevents+avro`)."""


class RepeatedAttribute(InvalidEvent):
    """A binary-mode attribute header sent more than once (e.g. `ce-id` twice)."""


def media_type(content_type: str | None) -> str:
    """`Application/JSON; charset=utf-8` -> `application/json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


# --- Kafka ---


def envelope_from_kafka(
    value: bytes | None,
    headers: Headers = (),
    *,
    key: bytes | str | None = None,
    max_bytes: int = MAX_EVENT_BYTES,
    max_depth: int = MAX_DEPTH,
) -> dict[str, Any]:
    """A Kafka record (structured or binary mode) as a structured-mode event, not yet judged.

    Raises InvalidEvent when there is no event to judge: a structured value that is not a JSON
    object, too large or too deep; binary-mode data that is not JSON; undecodable headers.
    """
    pairs, counts = _kafka_headers(headers)
    content_type = pairs.get("content-type")
    attributes = {
        name.removeprefix(KAFKA_PREFIX): text
        for name, text in pairs.items()
        if name.startswith(KAFKA_PREFIX)
    }
    key_text = _key_text(key)
    if is_kafka_binary(content_type, attributes):
        _refuse_repeated(counts, KAFKA_PREFIX, attributes)
        return _binary_event(
            attributes,
            content_type,
            value,
            partitionkey=key_text,
            max_bytes=max_bytes,
            max_depth=max_depth,
        )
    if value is None:
        raise InvalidEvent(
            "record has no value", [FieldError("body", "a record without a value is no event")]
        )
    payload = load_json(value, max_bytes=max_bytes, max_depth=max_depth)
    if not isinstance(payload, dict):
        raise InvalidEvent(
            "an event must be a JSON object", [FieldError("body", f"got {_json_kind(payload)}")]
        )
    if key_text is not None and "partitionkey" not in payload:
        payload["partitionkey"] = key_text
    return payload


def decode_record(
    value: bytes | None,
    headers: Headers = (),
    *,
    key: bytes | str | None = None,
    strict: bool = False,
    max_bytes: int = MAX_EVENT_BYTES,
    max_depth: int = MAX_DEPTH,
) -> DecodedEvent | None:
    """Decode one Kafka record, in structured or binary content mode.

    Returns the event, or None for a type the catalog does not know (consumers skip it).
    Raises InvalidEvent — and nothing else, whatever the bytes — for a record that is not an
    event: not JSON, larger than `max_bytes`, nested deeper than `max_depth`, a wrong envelope,
    data or partition key (every wrong field at once). Consumers decode with `strict=False`
    (unknown data fields are ignored, see `inspect_event`).
    """
    try:
        event_type = _structured_type(headers)
        if event_type is not None and value:
            decoded = judge_json(value, event_type, max_bytes=max_bytes, max_depth=max_depth)
            if decoded is not None:
                return decoded
        payload = envelope_from_kafka(
            value, headers, key=key, max_bytes=max_bytes, max_depth=max_depth
        )
        return judge_event(payload, strict=strict)
    except InvalidEvent:
        raise
    except Exception as e:
        raise undecodable(e) from e


def _structured_type(headers: Headers) -> str | None:
    """The `ce_type` header of a structured-mode record as the platform sends it (lower-case
    names, text values), for the one-pass decoding; None when it may be anything else."""
    if type(headers) is not dict:
        return None
    event_type = headers.get("ce_type")
    if not isinstance(event_type, str):
        return None
    if media_type(headers.get("content-type")) == STRUCTURED_JSON:
        return event_type
    return None


def is_kafka_binary(content_type: str | None, attributes: Mapping[str, str]) -> bool:
    if media_type(content_type).startswith(_STRUCTURED_PREFIX):
        return False
    return any(name != "type" for name in attributes)


def _kafka_headers(headers: Headers) -> tuple[dict[str, str], dict[str, int]]:
    """The headers by lower-case name (of a repeated one, the last), and how many times each
    name came."""
    if type(headers) is dict:  # text values, distinct lower-case names: nothing repeated
        pairs = {name.lower(): text for name, text in headers.items() if type(text) is str}
        if len(pairs) == len(headers):
            return pairs, {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    pairs = {}
    seen: dict[str, int] = {}
    for name, raw in items:
        lowered = name.lower()
        if raw is None or isinstance(raw, str):
            text = raw or ""
        else:
            try:
                text = bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                attribute = lowered.removeprefix(KAFKA_PREFIX)
                raise InvalidEvent(
                    f"header {name} is not UTF-8", [FieldError(attribute, "not valid UTF-8")]
                ) from None
        pairs[lowered] = text
        seen[lowered] = seen.get(lowered, 0) + 1
    return pairs, seen


def _refuse_repeated(counts: Mapping[str, int], prefix: str, attributes: Mapping[str, str]) -> None:
    """RepeatedAttribute naming each attribute header (`prefix` + name) that came more than
    once: which of its values is meant cannot be known. The other attributes are kept on the
    error, to say which event it was."""
    names = sorted(n for n, times in counts.items() if times > 1 and n.startswith(prefix))
    if names:
        raise RepeatedAttribute(
            "repeated attribute header",
            [FieldError(name, f"sent {counts[name]} times; send it once") for name in names],
            attributes={k: v for k, v in attributes.items() if prefix + k not in names},
        )


def _key_text(key: bytes | str | None) -> str | None:
    if key is None or isinstance(key, str):
        return key or None
    try:
        return bytes(key).decode("utf-8") or None
    except UnicodeDecodeError:
        return None  # not a partition key this platform could have made; the check says so


# --- HTTP ---


@dataclass(frozen=True)
class HttpEvents:
    """The events of one HTTP request: one (structured or binary mode) or a batch."""

    mode: str  # structured | binary | batch
    events: list[Any]

    @property
    def batch(self) -> bool:
        return self.mode == "batch"


def events_from_http(
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_bytes: int = MAX_EVENT_BYTES,
    max_depth: int = MAX_DEPTH,
) -> HttpEvents:
    """Read a request in structured, binary or batched mode (see the module docstring).

    `headers` must have lower-case names (Starlette's and httpx's do); a header sent twice
    must come twice from `headers.items()` (Starlette's does). Raises InvalidEvent when the body
    cannot be read (not JSON, more than `max_bytes`, deeper than `max_depth` per event),
    UnsupportedMediaType for an event format other than JSON and RepeatedAttribute for a
    binary-mode attribute header sent twice. The events are not judged.
    """
    content_type = headers.get("content-type")
    kind = media_type(content_type)
    if kind.startswith(_BATCH_PREFIX):
        if kind != BATCH_JSON:
            raise _unsupported(kind)
        payload = load_json(body, max_bytes=max_bytes, max_depth=max_depth + 1)
        if not isinstance(payload, list):
            raise InvalidEvent(
                "a batch must be a JSON array", [FieldError("body", f"got {_json_kind(payload)}")]
            )
        return HttpEvents("batch", payload)
    if kind.startswith(_STRUCTURED_PREFIX):
        if kind != STRUCTURED_JSON:
            raise _unsupported(kind)
        return HttpEvents("structured", [load_json(body, max_bytes=max_bytes, max_depth=max_depth)])
    sent = [(name.lower(), text) for name, text in headers.items()]
    attributes = {
        name.removeprefix(HTTP_PREFIX): unquote(text)
        for name, text in sent
        if name.startswith(HTTP_PREFIX)
    }
    if attributes:
        _refuse_repeated(Counter(name for name, _ in sent), HTTP_PREFIX, attributes)
        event = _binary_event(
            attributes, content_type, body, max_bytes=max_bytes, max_depth=max_depth
        )
        return HttpEvents("binary", [event])
    # No CloudEvents content type and no ce- headers: a JSON event, or a JSON array of them.
    payload = load_json(body, max_bytes=max_bytes, max_depth=max_depth + 1)
    if isinstance(payload, list):
        return HttpEvents("batch", payload)
    ensure_depth(payload, max_depth)
    return HttpEvents("structured", [payload])


def _unsupported(kind: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        "unsupported event format",
        [FieldError("content-type", f"{kind} is not accepted; send {STRUCTURED_JSON}")],
    )


# --- binary mode, both protocols ---


def _binary_event(
    attributes: Mapping[str, str],
    content_type: str | None,
    body: bytes | None,
    *,
    partitionkey: str | None = None,
    max_bytes: int,
    max_depth: int,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        name: text for name, text in attributes.items() if _is_header_attribute(name)
    }
    if partitionkey is not None and "partitionkey" not in event:
        event["partitionkey"] = partitionkey
    kind = media_type(content_type)
    if content_type is not None:
        # The envelope accepts application/json only; anything else is named by its check.
        event["datacontenttype"] = _JSON if kind == _JSON else content_type
    if body:
        if kind in ("", _JSON):
            try:
                # One level less than structured mode: there the envelope holds the data.
                event["data"] = load_json(
                    body, max_bytes=max_bytes, max_depth=max_depth - 1, what="data"
                )
            except InvalidEvent as e:
                raise InvalidEvent(
                    e.reason, e.errors, attributes=_known(event), oversized=e.oversized
                ) from None
        else:
            event["data"] = body[:1000].decode("utf-8", "replace")
    return event


@lru_cache(maxsize=256)  # the names records carry are few, but anyone may send any
def _is_header_attribute(name: str) -> bool:
    return _ATTRIBUTE_NAME.fullmatch(name) is not None and name not in _NOT_HEADER_ATTRIBUTES


def _known(event: Mapping[str, Any]) -> dict[str, str]:
    return {k: v for k, v in event.items() if isinstance(v, str)}


def _json_kind(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
