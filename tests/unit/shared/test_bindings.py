"""CloudEvents bindings: Kafka records and HTTP requests in structured, binary and batched mode.

The messages are made with the official CloudEvents Python SDK: its current API
(`cloudevents.core.bindings`) and the v1 API that 1.x releases shipped as `cloudevents.http` and
`cloudevents.kafka` (binary Kafka records carry `partitionkey` as the record key only).
"""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkEvent
from cloudevents.v1 import conversion as v1_conversion
from cloudevents.v1 import kafka as v1_kafka
from cloudevents.v1.http import CloudEvent as V1Event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.events.bindings import (
    BATCH_JSON,
    STRUCTURED_JSON,
    UnsupportedMediaType,
    decode_record,
    envelope_from_kafka,
    events_from_http,
)
from shared.events.catalog import SessionScheduled
from shared.events.codec import MAX_DEPTH, InvalidEvent, encode
from shared.events.envelope import new_event

SCHEDULED = "cop.session.scheduled.v1"
AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
DATA: dict[str, Any] = {
    "session_id": "s-4711",
    "community_id": "platform-guild",
    "title": "Journal club: Accelerate, chapter 4",
    "format": "journal_club",
    "starts_at": "2026-12-03T12:00:00Z",
    "duration_minutes": 45,
    "facilitator_id": "ada",
    "location": "https://meet.example.com/jc",
}


def sdk_event(**changes: Any) -> SdkEvent:
    attributes: dict[str, Any] = {
        "id": "cal-4711",
        "source": "calendar/team a",  # a space: percent-encoded in HTTP headers
        "type": SCHEDULED,
        "time": AT,
        "datacontenttype": "application/json",
        "partitionkey": "platform-guild",
        "subject": "session/s-4711",
    }
    data = changes.pop("data", DATA)
    attributes.update(changes)
    return SdkEvent({k: v for k, v in attributes.items() if v is not None}, data)


def v1_event(**changes: Any) -> V1Event:
    attributes: dict[str, Any] = {
        "id": "cal-4711",
        "source": "calendar/team a",
        "type": SCHEDULED,
        "time": "2026-11-21T09:00:00Z",
        "datacontenttype": "application/json",
        "partitionkey": "platform-guild",
    }
    attributes.update(changes)
    return V1Event(attributes, dict(DATA))


def assert_is_the_event(decoded: Any) -> None:
    assert decoded is not None
    assert decoded.envelope.id == "cal-4711"
    assert decoded.envelope.source == "calendar/team a"
    assert decoded.envelope.type == SCHEDULED
    assert decoded.envelope.time == AT
    assert decoded.envelope.partitionkey == "platform-guild"
    assert decoded.data == SessionScheduled.model_validate(DATA)


def _fields(error: InvalidEvent) -> set[str]:
    return {e.field for e in error.errors}


# --- Kafka ---


def test_a_structured_record_made_by_the_sdk_decodes() -> None:
    message = ce_kafka.to_structured(sdk_event(), JSONFormat())

    assert message.headers["content-type"] == STRUCTURED_JSON.encode()
    assert_is_the_event(decode_record(message.value, message.headers, key=message.key))


def test_a_binary_record_made_by_the_sdk_decodes_to_the_same_event() -> None:
    message = ce_kafka.to_binary(sdk_event(), JSONFormat())

    assert message.headers["ce_type"] == SCHEDULED.encode()
    assert json.loads(message.value) == DATA  # the value is the data alone
    decoded = decode_record(message.value, message.headers, key=message.key)

    assert_is_the_event(decoded)
    structured = ce_kafka.to_structured(sdk_event(), JSONFormat())
    assert decoded == decode_record(structured.value, structured.headers)


def test_a_binary_record_from_the_v1_sdk_takes_its_partitionkey_from_the_record_key() -> None:
    message = v1_kafka.to_binary(v1_event())

    assert "ce_partitionkey" not in message.headers
    assert message.key == "platform-guild"
    assert isinstance(message.value, bytes)  # the v1 SDK types it str | bytes
    assert_is_the_event(decode_record(message.value, message.headers, key=message.key))


def test_binary_headers_may_come_as_aiokafkas_pairs_or_as_decoded_text() -> None:
    message = ce_kafka.to_binary(sdk_event(), JSONFormat())
    pairs = list(message.headers.items())
    text = {k: v.decode() for k, v in message.headers.items()}

    assert decode_record(message.value, pairs) == decode_record(message.value, text)
    assert_is_the_event(decode_record(message.value, text))


def test_a_binary_record_with_the_wrong_partitionkey_names_it() -> None:
    message = ce_kafka.to_binary(sdk_event(partitionkey="ada"), JSONFormat())

    with pytest.raises(InvalidEvent) as caught:
        decode_record(message.value, message.headers, key=message.key)

    assert _fields(caught.value) == {"partitionkey"}


def test_a_binary_record_names_every_wrong_attribute_and_data_field() -> None:
    message = ce_kafka.to_binary(
        sdk_event(type=SCHEDULED, data={**DATA, "duration_minutes": 0, "format": "karaoke"}),
        JSONFormat(),
    )
    headers = {**message.headers, "ce_time": b"yesterday", "ce_partitionkey": b"x"}

    with pytest.raises(InvalidEvent) as caught:
        decode_record(message.value, headers)

    assert caught.value.reason == "invalid CloudEvents envelope"
    assert _fields(caught.value) == {
        "time", "data.duration_minutes", "data.format", "partitionkey",
    }  # fmt: skip


def test_binary_data_that_is_not_json_is_invalid_and_keeps_the_attributes() -> None:
    headers = {"ce_specversion": "1.0", "ce_id": "x1", "ce_source": "calendar", "ce_type": "t"}

    with pytest.raises(InvalidEvent) as caught:
        decode_record(b"{oops", {**headers, "content-type": "application/json"})

    assert caught.value.reason == "data is not valid JSON"
    assert _fields(caught.value) == {"data"}
    assert caught.value.attributes["id"] == "x1"


def test_binary_data_of_another_content_type_is_refused_by_the_envelope() -> None:
    message = ce_kafka.to_binary(sdk_event(datacontenttype="text/xml", data="<a/>"), JSONFormat())

    with pytest.raises(InvalidEvent) as caught:
        decode_record(message.value, message.headers)

    assert {"datacontenttype", "data"} <= _fields(caught.value)


def test_a_json_content_type_with_parameters_is_json() -> None:
    message = ce_kafka.to_binary(sdk_event(), JSONFormat())
    headers = {**message.headers, "content-type": b"Application/JSON; charset=utf-8"}

    assert_is_the_event(decode_record(message.value, headers))


def test_the_platforms_own_records_with_a_ce_type_hint_are_structured() -> None:
    event = new_event(SessionScheduled.model_validate(DATA), source="events", time=AT)
    record = encode(event)

    decoded = decode_record(record.value, record.headers, key=record.key)
    assert decoded is not None
    assert decoded.envelope == event
    without_content_type = {"ce_type": SCHEDULED}
    assert decode_record(record.value, without_content_type) == decoded


def test_a_plain_json_value_without_headers_is_structured_mode() -> None:
    value = ce_kafka.to_structured(sdk_event(), JSONFormat()).value

    assert_is_the_event(decode_record(value))
    assert_is_the_event(decode_record(value, {}, key=b"ignored-when-the-event-has-one"))


def test_a_structured_event_without_partitionkey_takes_the_record_key() -> None:
    event = json.loads(ce_kafka.to_structured(sdk_event(), JSONFormat()).value)
    del event["partitionkey"]

    assert_is_the_event(decode_record(json.dumps(event).encode(), key=b"platform-guild"))
    with pytest.raises(InvalidEvent) as caught:
        decode_record(json.dumps(event).encode())
    assert _fields(caught.value) == {"partitionkey"}


def test_an_unknown_type_decodes_to_none_in_both_modes() -> None:
    event = sdk_event(type="com.example.other.v1")

    for message in (
        ce_kafka.to_binary(event, JSONFormat()),
        ce_kafka.to_structured(event, JSONFormat()),
    ):
        assert decode_record(message.value, message.headers, key=message.key) is None


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        pytest.param(None, {}, "record has no value", id="tombstone"),
        pytest.param(b"", {}, "body is not valid JSON", id="empty"),
        pytest.param(b"[" * 5000 + b"]" * 5000, {}, "body nested too deeply", id="5000-arrays"),
        pytest.param(b'["a"]', {}, "an event must be a JSON object", id="array"),
        pytest.param(
            b"[" * 5000 + b"]" * 5000,
            {"ce_specversion": "1.0", "ce_id": "1"},
            "data nested too deeply",
            id="binary-5000-arrays",
        ),
        pytest.param(b"{}", {"ce_id": b"\xff"}, "header ce_id is not UTF-8", id="bad-header"),
    ],
)
def test_records_that_are_not_events_are_invalid_events_with_a_reason(
    value: bytes | None, headers: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode_record(value, headers)

    assert caught.value.reason == reason
    assert caught.value.errors


def test_depth_is_counted_alike_in_both_modes() -> None:
    # In binary mode the value is the data, one level below the envelope of structured mode.
    details: dict[str, Any] = {}
    data = {"community_id": "c1", "alert": "quiet", "period": "2026-11", "details": details}
    for _ in range(MAX_DEPTH - 3):
        details["k"] = {}
        details = details["k"]
    event = sdk_event(type="cop.health.alert_raised.v1", partitionkey="c1", data=data)
    binary = ce_kafka.to_binary(event, JSONFormat())
    structured = ce_kafka.to_structured(event, JSONFormat())

    assert decode_record(binary.value, binary.headers) is not None
    assert decode_record(structured.value, structured.headers) is not None
    details["k"] = {}
    binary = ce_kafka.to_binary(event, JSONFormat())
    structured = ce_kafka.to_structured(event, JSONFormat())
    with pytest.raises(InvalidEvent, match="data nested too deeply"):
        decode_record(binary.value, binary.headers)
    with pytest.raises(InvalidEvent, match="body nested too deeply"):
        decode_record(structured.value, structured.headers)


def test_the_size_limit_is_a_parameter_in_both_modes() -> None:
    for message in (
        ce_kafka.to_binary(sdk_event(), JSONFormat()),
        ce_kafka.to_structured(sdk_event(), JSONFormat()),
    ):
        limit = len(message.value) - 1
        with pytest.raises(InvalidEvent, match="too large") as caught:
            decode_record(message.value, message.headers, max_bytes=limit)
        assert caught.value.oversized


def test_consumers_decode_leniently_unless_told_to_be_strict() -> None:
    message = ce_kafka.to_binary(sdk_event(data={**DATA, "added_later": 1}), JSONFormat())

    assert decode_record(message.value, message.headers) is not None
    with pytest.raises(InvalidEvent) as caught:
        decode_record(message.value, message.headers, strict=True)
    assert _fields(caught.value) == {"data.added_later"}


def test_envelope_from_kafka_gives_the_structured_event_of_a_binary_record() -> None:
    message = ce_kafka.to_binary(sdk_event(), JSONFormat())

    envelope = envelope_from_kafka(message.value, message.headers, key=message.key)

    assert envelope == {
        "specversion": "1.0",
        "id": "cal-4711",
        "source": "calendar/team a",
        "type": SCHEDULED,
        "time": "2026-11-21T09:00:00Z",
        "subject": "session/s-4711",
        "partitionkey": "platform-guild",
        "datacontenttype": "application/json",
        "data": DATA,
    }


_header_values = st.one_of(st.none(), st.binary(max_size=40), st.text(max_size=40))
_header_names = st.sampled_from(
    ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_partitionkey",
     "ce_data", "ce_Bad-Name", "content-type", "traceparent"]
)  # fmt: skip
_json_ish = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(
    max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None, database=None
)
@given(
    value=st.one_of(
        st.none(),
        st.binary(max_size=200),
        _json_ish.map(lambda v: json.dumps(v).encode()),
        st.integers(1, 400).map(lambda n: b"[" * n + b"]" * n),
    ),
    headers=st.dictionaries(_header_names, _header_values, max_size=6),
    key=st.one_of(st.none(), st.binary(max_size=10)),
)
def test_any_record_decodes_or_is_an_invalid_event_never_another_error(
    value: bytes | None, headers: dict[str, Any], key: bytes | None
) -> None:
    try:
        decode_record(value, headers, key=key)
    except InvalidEvent as e:  # anything else fails the test
        reason = e.reason
    else:
        reason = "decoded"
    assert reason


# --- HTTP ---


def test_a_structured_request_made_by_the_sdk_is_one_event() -> None:
    message = ce_http.to_structured(sdk_event(), JSONFormat())

    received = events_from_http(message.body, message.headers)

    assert (received.mode, received.batch) == ("structured", False)
    assert received.events == [json.loads(message.body)]


def test_a_binary_request_made_by_the_sdk_is_rebuilt_with_percent_decoded_attributes() -> None:
    message = ce_http.to_binary(sdk_event(), JSONFormat())

    assert message.headers["ce-source"] == "calendar/team%20a"
    received = events_from_http(message.body, message.headers)

    assert (received.mode, received.batch) == ("binary", False)
    (event,) = received.events
    assert event["source"] == "calendar/team a"
    assert event["data"] == DATA
    assert event["datacontenttype"] == "application/json"
    structured = json.loads(ce_http.to_structured(sdk_event(), JSONFormat()).body)
    assert {k: v for k, v in event.items() if k != "time"} == {
        k: v for k, v in structured.items() if k != "time"
    }


def test_a_binary_request_made_by_the_v1_sdk_is_rebuilt() -> None:
    headers, body = v1_conversion.to_binary(v1_event())

    (event,) = events_from_http(body, {k.lower(): v for k, v in headers.items()}).events

    assert event["id"] == "cal-4711"
    assert event["partitionkey"] == "platform-guild"
    assert event["data"] == DATA


def test_a_batched_request_is_a_list_of_structured_events() -> None:
    events = [sdk_event(id=f"cal-{i}") for i in range(3)]
    body = b"[" + b",".join(JSONFormat().write(e) for e in events) + b"]"

    received = events_from_http(body, {"content-type": BATCH_JSON})

    assert (received.mode, received.batch) == ("batch", True)
    assert [e["id"] for e in received.events] == ["cal-0", "cal-1", "cal-2"]


def test_a_plain_json_array_is_still_a_batch_and_a_plain_object_one_event() -> None:
    one = JSONFormat().write(sdk_event())

    assert events_from_http(b"[" + one + b"]", {"content-type": "application/json"}).batch
    assert not events_from_http(one, {"content-type": "application/json"}).batch
    assert not events_from_http(one, {}).batch


def test_a_batch_that_is_not_an_array_is_refused() -> None:
    with pytest.raises(InvalidEvent, match="a batch must be a JSON array"):
        events_from_http(JSONFormat().write(sdk_event()), {"content-type": BATCH_JSON})


@pytest.mark.parametrize(
    "content_type", ["application/cloudevents+avro", "application/cloudevents-batch+protobuf"]
)
def test_event_formats_other_than_json_are_unsupported(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        events_from_http(b"\x00", {"content-type": content_type})

    assert _fields(caught.value) == {"content-type"}


def test_a_structured_content_type_wins_over_stray_ce_headers() -> None:
    message = ce_http.to_structured(sdk_event(), JSONFormat())

    received = events_from_http(message.body, {**message.headers, "ce-id": "other"})

    assert received.mode == "structured"
    assert received.events[0]["id"] == "cal-4711"


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": STRUCTURED_JSON},
        {"content-type": BATCH_JSON},
        {"content-type": "application/json"},
        {},
    ],
)
def test_deeply_nested_bodies_are_invalid_events_in_every_mode(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidEvent, match="nested too deeply") as caught:
        events_from_http(b"[" * 5000 + b"]" * 5000, headers)

    assert _fields(caught.value) == {"body"}


def test_deeply_nested_binary_data_is_an_invalid_event() -> None:
    headers = {"ce-specversion": "1.0", "ce-id": "1", "content-type": "application/json"}

    with pytest.raises(InvalidEvent, match="data nested too deeply") as caught:
        events_from_http(b"[" * 5000 + b"]" * 5000, headers)

    assert _fields(caught.value) == {"data"}
    assert caught.value.attributes["id"] == "1"


def test_a_single_event_may_not_use_the_level_a_batch_array_adds() -> None:
    deep: Any = {}
    for _ in range(MAX_DEPTH):  # the event alone: exactly 65 levels
        deep = {"k": deep}
    body = json.dumps(deep).encode()

    with pytest.raises(InvalidEvent, match="nested too deeply"):
        events_from_http(body, {"content-type": "application/json"})
    with pytest.raises(InvalidEvent, match="nested too deeply"):
        events_from_http(body, {"content-type": STRUCTURED_JSON})
    assert events_from_http(json.dumps(deep["k"]).encode(), {}).events


def test_an_http_body_over_the_limit_is_oversized() -> None:
    body = JSONFormat().write(sdk_event())

    with pytest.raises(InvalidEvent) as caught:
        events_from_http(body, {"content-type": STRUCTURED_JSON}, max_bytes=len(body) - 1)

    assert caught.value.oversized
