"""Properties of the event models and the codec, for any input hypothesis can think of.

- decoding never raises anything but `InvalidEvent`, and never needs its last-resort path
  (an unexpected exception turned into "could not decode the event"): every refusal is a
  check that knew what it was refusing, and names the fields;
- an event made from the catalog's models survives encode -> decode unchanged, whatever
  Unicode (control characters, bidi overrides, astral planes) its text fields carry;
- nesting deeper than the limit is refused as too deep, never with a RecursionError.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.events.catalog import CATALOG, MemberProfileUpdated, SessionScheduled
from shared.events.codec import MAX_DEPTH, InvalidEvent, decode, encode
from shared.events.envelope import new_event
from shared.events.times import EARLIEST, LATEST

LAST_RESORT = "could not decode the event"
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
attribute_names = st.sampled_from(
    ["specversion", "id", "source", "type", "partitionkey", "time", "subject", "data",
     "datacontenttype", "dataschema", "originalid"]
)  # fmt: skip
catalog_types = st.sampled_from(sorted(CATALOG))


def refused_knowingly(raw: Any) -> None:
    """Decoding either works or raises InvalidEvent from a check that names fields."""
    refusal: InvalidEvent | None = None
    try:
        decode(raw)
    except InvalidEvent as e:
        refusal = e
    if refusal is not None:
        assert refusal.reason != LAST_RESORT, refusal.as_dict()
        assert refusal.errors, refusal.reason
        assert all(f.field for f in refusal.errors), refusal.as_dict()


@pytest.mark.parametrize("raw", [b"0", b'"event"', b"null", b"true"])
def test_a_json_document_that_is_not_an_object_names_the_body(raw: bytes) -> None:
    with pytest.raises(InvalidEvent) as refused:
        decode(raw)
    assert [f.field for f in refused.value.errors] == ["body"]


@PROPERTY
@given(st.binary(max_size=2000))
def test_any_bytes_decode_or_are_refused_with_named_fields(raw: bytes) -> None:
    refused_knowingly(raw)


@PROPERTY
@given(json_values)
def test_any_json_document_decodes_or_is_refused_with_named_fields(value: Any) -> None:
    refused_knowingly(json.dumps(value))


@PROPERTY
@given(
    envelope=st.dictionaries(attribute_names, json_values, max_size=11),
    event_type=catalog_types,
    data=st.dictionaries(st.text(max_size=20), json_values, max_size=6),
)
def test_any_envelope_of_a_catalog_type_decodes_or_is_refused_with_named_fields(
    envelope: dict[str, Any], event_type: str, data: dict[str, Any]
) -> None:
    refused_knowingly(json.dumps({"type": event_type, "data": data, **envelope}))


def profile(name: str, team: str) -> MemberProfileUpdated:
    return MemberProfileUpdated(
        member_id="ada", name=name, email="ada@example.com", team=team, timezone="UTC"
    )


@PROPERTY
@given(
    name=st.text(min_size=1, max_size=200),
    team=st.text(max_size=200),
)
def test_any_unicode_in_a_profile_survives_encode_and_decode(name: str, team: str) -> None:
    event = new_event(profile(name, team), source="directory", event_id=str(uuid.uuid4()))
    decoded = decode(encode(event).value)
    assert decoded is not None
    assert isinstance(decoded.data, MemberProfileUpdated)
    assert (decoded.data.name, decoded.data.team) == (name, team)
    assert decoded.envelope == event


@PROPERTY
@given(
    title=st.text(min_size=1, max_size=200),
    starts_at=st.datetimes(
        min_value=EARLIEST.replace(tzinfo=None),
        max_value=LATEST.replace(tzinfo=None),
        timezones=st.just(UTC),
    ),
    minutes=st.integers(min_value=5, max_value=24 * 60),
)
def test_any_session_title_and_time_survive_encode_and_decode(
    title: str, starts_at: datetime, minutes: int
) -> None:
    data = SessionScheduled(
        session_id="s-1",
        community_id="guild",
        title=title,
        format="brown_bag",
        starts_at=starts_at,
        duration_minutes=minutes,
        facilitator_id="ada",
    )
    event = new_event(data, source="calendar")
    decoded = decode(encode(event).value)
    assert decoded is not None
    assert isinstance(decoded.data, SessionScheduled)
    assert decoded.data == data


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 150, 199, 200, 201, 5000, 100_000])
def test_nesting_deeper_than_the_limit_is_refused_as_too_deep(depth: int) -> None:
    nested = "[" * depth + "]" * depth
    body = f'{{"specversion": "1.0", "data": {{"x": {nested}}}}}'
    with pytest.raises(InvalidEvent) as refused:
        decode(body)
    assert "deep" in refused.value.reason, refused.value.as_dict()
