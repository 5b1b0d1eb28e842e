"""Decoding in one pass (the typed envelope of each catalog type) gives what judging stage by
stage gives: the same event, or the same refusal naming the same fields."""

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.events.bindings import decode_record, envelope_from_kafka
from shared.events.catalog import CATALOG
from shared.events.codec import DecodedEvent, InvalidEvent, decode, inspect_event
from shared.events.envelope import CloudEvent
from tests.unit.shared.test_catalog import EXAMPLES

STRUCTURED = {"ce_type": "", "content-type": "application/cloudevents+json"}


def event(event_type: str, data: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    data = dict(EXAMPLES[event_type] if data is None else data)
    spec = CATALOG[event_type]
    envelope = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "tests",
        "type": event_type,
        "time": "2026-11-21T10:00:00Z",
        "partitionkey": spec.key(data),
        "subject": spec.subject(data),
        "data": data,
    }
    return {**envelope, **changes}


def stage_by_stage(value: bytes, headers: dict[str, str], strict: bool) -> Any:
    try:
        payload = envelope_from_kafka(value, headers, key=b"k")
        return inspect_event(payload, strict=strict).verdict()
    except InvalidEvent as e:
        return e.as_dict()


def one_pass(value: bytes, headers: dict[str, str], strict: bool) -> Any:
    try:
        return decode_record(value, headers, key=b"k", strict=strict)
    except InvalidEvent as e:
        return e.as_dict()


def binary(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    headers = {f"ce_{k}": str(v) for k, v in payload.items() if k != "data" and isinstance(v, str)}
    headers["content-type"] = "application/json"
    return json.dumps(payload.get("data")).encode(), headers


def comparable(result: Any) -> Any:
    """A decoded event without its time when it had none (each decoding takes its own now)."""
    if not isinstance(result, DecodedEvent):
        return result
    return result.envelope.model_dump(exclude={"time"}), result.spec, result.data


def assert_same(payload: dict[str, Any], strict: bool = False) -> None:
    structured = (json.dumps(payload).encode(), {**STRUCTURED, "ce_type": str(payload.get("type"))})
    for value, headers in (structured, binary(payload)):
        expected = stage_by_stage(value, headers, strict)
        got = one_pass(value, headers, strict)
        assert comparable(got) == comparable(expected)
        if isinstance(got, DecodedEvent):
            assert isinstance(got.envelope, CloudEvent)
            assert type(got.envelope) is CloudEvent
            assert got.envelope.data == payload["data"]
            assert (got.id, got.type) == (payload["id"], payload["type"])


@pytest.mark.parametrize("event_type", sorted(CATALOG))
def test_every_catalog_type_decodes_as_when_judged_stage_by_stage(event_type: str) -> None:
    assert_same(event(event_type))
    assert_same(event(event_type, traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01"))
    value = json.dumps(event(event_type)).encode()
    headers = {**STRUCTURED, "ce_type": event_type}
    assert one_pass(value, headers, False) == stage_by_stage(value, headers, False)


@pytest.mark.parametrize("event_type", sorted(CATALOG))
def test_an_unknown_data_field_is_ignored_or_refused_as_before(event_type: str) -> None:
    payload = event(event_type, {**EXAMPLES[event_type], "added_later": 1})
    assert_same(payload, strict=False)
    assert_same(payload, strict=True)


def test_a_partition_key_that_is_not_the_catalogs_is_refused_naming_it() -> None:
    payload = event("cop.kudos.given.v1", partitionkey="not-the-community")
    assert_same(payload)
    with pytest.raises(InvalidEvent) as refused:
        decode(json.dumps(payload))
    assert [e.field for e in refused.value.errors] == ["partitionkey"]


def test_a_header_type_that_is_not_the_events_type_decodes_the_events_type() -> None:
    payload = event("cop.member.joined.v1")
    value = json.dumps(payload).encode()
    headers = {**STRUCTURED, "ce_type": "cop.kudos.given.v1"}
    decoded = decode_record(value, headers)
    assert decoded is not None
    assert decoded.type == "cop.member.joined.v1"
    assert decoded == stage_by_stage(value, headers, False)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    event_type=st.sampled_from(sorted(CATALOG)),
    field=st.text(max_size=20) | st.sampled_from(["id", "time", "partitionkey", "type"]),
    value=json_values,
    in_data=st.booleans(),
    strict=st.booleans(),
)
def test_any_one_wrong_field_is_judged_as_stage_by_stage(
    event_type: str, field: str, value: Any, in_data: bool, strict: bool
) -> None:
    payload = event(event_type)
    data = dict(payload["data"])
    if in_data:
        data[sorted(data)[hash(field) % len(data)] if field not in data else field] = value
        payload["data"] = data
    else:
        payload[field] = value
    assert_same(payload, strict=strict)
