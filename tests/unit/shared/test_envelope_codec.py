"""Envelope and codec: events become Kafka records and come back, and bad input is refused."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shared.events.catalog import (
    CATALOG,
    ActionItemOpened,
    Charter,
    FeedbackSubmitted,
    KudosGiven,
    MemberProfileUpdated,
    NotificationDelivered,
    NotificationFailed,
)
from shared.events.codec import (
    CE_TYPE_HEADER,
    CONTENT_TYPE_HEADER,
    MAX_DEPTH,
    MAX_EVENT_BYTES,
    FieldError,
    InvalidEvent,
    decode,
    encode,
    load_json,
    parse_envelope,
    validate_data,
)
from shared.events.envelope import CONTENT_TYPE, CloudEvent, new_event
from shared.events.topics import Topic

FEEDBACK = "cop.feedback.submitted.v1"
PROFILE = "cop.member.profile_updated.v1"
KUDOS = "cop.kudos.given.v1"
SCHEDULED = "cop.session.scheduled.v1"
DELIVERED = "cop.notification.delivered.v1"
AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def _feedback_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "session_id": "s1",
        "community_id": "c1",
        "member_id": "m1",
        "rating": 4,
        "plus": "the live demo",
        "delta": "more time for questions",
        "applied": True,
    }
    data.update(changes)
    return data


def _profile_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"member_id": "m1", "name": "Ada Lovelace", "email": "ada@example.com"}
    data.update(changes)
    return data


def _scheduled_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "session_id": "s1",
        "community_id": "c1",
        "title": "Property-based testing",
        "format": "brown_bag",
        "starts_at": "2026-11-25T12:00:00Z",
        "duration_minutes": 45,
        "facilitator_id": "m1",
    }
    data.update(changes)
    return data


def _kudos_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kudos_id": "k1",
        "from_id": "m1",
        "to_ids": ["m2"],
        "community_id": "c1",
        "message": "Thanks for the pairing session",
        "value_tag": "mentoring",
    }
    data.update(changes)
    return data


def _envelope(event_type: str, data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": "e1",
        "source": "tests/unit",
        "type": event_type,
        "time": "2026-11-21T10:00:00Z",
        "datacontenttype": "application/json",
        "partitionkey": "c1",
        "data": data,
    }
    envelope.update(changes)
    return {k: v for k, v in envelope.items() if v is not None}


def _fields(error: InvalidEvent) -> set[str]:
    return {e.field for e in error.errors}


# --- round trip ---


def test_encode_then_decode_gives_back_the_same_event_and_data() -> None:
    model = FeedbackSubmitted.model_validate(_feedback_data())
    event = new_event(model, source="tests/unit", event_id="e1", time=AT)

    record = encode(event)
    decoded = decode(record.value)

    assert decoded is not None
    assert decoded.envelope == event
    assert decoded.data == model
    assert decoded.spec is CATALOG[FEEDBACK]
    assert decoded.id == "e1"
    assert decoded.type == FEEDBACK


def test_encoded_record_is_keyed_by_partitionkey_with_type_header_on_the_family_topic() -> None:
    event = new_event(FeedbackSubmitted.model_validate(_feedback_data()), source="tests/unit")

    record = encode(event)

    assert record.topic == "cop.sessions"
    assert record.key == b"c1"
    assert record.headers[CE_TYPE_HEADER] == FEEDBACK
    assert record.headers[CONTENT_TYPE_HEADER] == CONTENT_TYPE == "application/cloudevents+json"


def test_encoded_body_is_structured_mode_cloudevent_json_with_utc_time() -> None:
    event = new_event(
        FeedbackSubmitted.model_validate(_feedback_data()), source="tests/unit", time=AT
    )

    body = json.loads(encode(event).value)

    assert body["specversion"] == "1.0"
    assert body["type"] == FEEDBACK
    assert body["partitionkey"] == "c1"
    assert body["subject"] == "session/s1"
    assert body["datacontenttype"] == "application/json"
    assert body["data"] == _feedback_data()
    assert datetime.fromisoformat(body["time"]) == AT
    assert datetime.fromisoformat(body["time"]).utcoffset() == timedelta(0)


@pytest.mark.parametrize("form", ["bytes", "str", "dict"])
def test_decode_accepts_bytes_text_and_parsed_json(form: str) -> None:
    envelope = _envelope(FEEDBACK, _feedback_data())
    raw: Any = {
        "bytes": json.dumps(envelope).encode(),
        "str": json.dumps(envelope),
        "dict": envelope,
    }[form]

    decoded = decode(raw)

    assert decoded is not None
    assert isinstance(decoded.data, FeedbackSubmitted)
    assert decoded.data.rating == 4


def test_envelope_time_with_an_offset_is_normalised_to_utc() -> None:
    envelope = parse_envelope(
        _envelope(FEEDBACK, _feedback_data(), time="2026-11-21T12:00:00+02:00")
    )

    assert envelope.time == AT
    assert envelope.time.utcoffset() == timedelta(0)


def test_envelope_keeps_unknown_extension_attributes() -> None:
    envelope = parse_envelope(_envelope(FEEDBACK, _feedback_data(), traceparent="00-abc-def-01"))

    assert envelope.model_extra == {"traceparent": "00-abc-def-01"}


# --- unknown types are ignored, never a crash ---


@pytest.mark.parametrize(
    "event_type",
    ["cop.community.archived.v1", "cop.kudos.given.v2", "other.system.thing"],
)
def test_decode_returns_none_for_an_unknown_event_type(event_type: str) -> None:
    raw = json.dumps(_envelope(event_type, {"anything": ["goes", 1]})).encode()

    assert decode(raw) is None


def test_encode_refuses_an_event_type_missing_from_the_catalog() -> None:
    event = CloudEvent(
        id="e1", source="tests/unit", type="cop.unknown.v1", partitionkey="c1", data={}
    )

    with pytest.raises(InvalidEvent, match=r"unknown event type 'cop\.unknown\.v1'"):
        encode(event)


# --- invalid data ---


@pytest.mark.parametrize(
    ("event_type", "data", "wrong_field"),
    [
        pytest.param(FEEDBACK, _feedback_data(rating=6), "rating", id="rating-above-5"),
        pytest.param(FEEDBACK, _feedback_data(rating=0), "rating", id="rating-below-1"),
        pytest.param(FEEDBACK, _feedback_data(rating="great"), "rating", id="rating-not-int"),
        pytest.param(
            PROFILE,
            {k: v for k, v in _profile_data().items() if k != "email"},
            "email",
            id="missing-email",
        ),
        pytest.param(PROFILE, _profile_data(email="not-an-email"), "email", id="bad-email"),
        pytest.param(
            PROFILE,
            _profile_data(email="ada@example.com\r\nBcc: x@y.com"),
            "email",
            id="email-with-header-injection",
        ),
        pytest.param(KUDOS, _kudos_data(to_ids=[]), "to_ids", id="no-recipients"),
        pytest.param(
            KUDOS,
            _kudos_data(community_id="../etc/passwd"),
            "community_id",
            id="id-with-bad-characters",
        ),
        pytest.param(KUDOS, _kudos_data(value_tag="Not A Tag"), "value_tag", id="bad-tag"),
        pytest.param(
            SCHEDULED,
            _scheduled_data(starts_at="2026-11-25T12:00:00"),
            "starts_at",
            id="naive-data-time",
        ),
        pytest.param(SCHEDULED, _scheduled_data(format="karaoke"), "format", id="unknown-enum"),
        pytest.param(FEEDBACK, _feedback_data(ratting=5), "ratting", id="extra-field-forbidden"),
    ],
)
def test_invalid_data_is_rejected_naming_the_wrong_field(
    event_type: str, data: dict[str, Any], wrong_field: str
) -> None:
    key = data.get("community_id", data.get("member_id"))  # keyed as its producer would key it
    raw = json.dumps(_envelope(event_type, data, partitionkey=key)).encode()

    with pytest.raises(InvalidEvent) as caught:
        decode(raw)

    assert caught.value.reason == f"invalid data for {event_type}"
    assert _fields(caught.value) == {f"data.{wrong_field}"}
    assert all(e.message for e in caught.value.errors)


def test_invalid_data_reports_every_wrong_field_at_once() -> None:
    data = _feedback_data(rating=9, member_id="", surprise=True)

    with pytest.raises(InvalidEvent) as caught:
        decode(_envelope(FEEDBACK, data))

    assert _fields(caught.value) == {"data.rating", "data.member_id", "data.surprise"}


def test_invalid_event_as_dict_is_machine_readable() -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(_envelope(FEEDBACK, _feedback_data(rating=6)))

    as_dict = caught.value.as_dict()

    assert as_dict["reason"] == f"invalid data for {FEEDBACK}"
    assert as_dict["errors"] == [
        {"field": "data.rating", "message": caught.value.errors[0].message}
    ]
    json.dumps(as_dict)


# --- invalid envelope ---


@pytest.mark.parametrize(
    ("changes", "wrong_field"),
    [
        pytest.param({"id": None}, "id", id="missing-id"),
        pytest.param({"id": ""}, "id", id="empty-id"),
        pytest.param({"source": None}, "source", id="missing-source"),
        pytest.param({"time": "2026-11-21T10:00:00"}, "time", id="naive-time"),
        pytest.param({"time": "yesterday"}, "time", id="unparseable-time"),
        pytest.param({"specversion": "0.3"}, "specversion", id="wrong-specversion"),
        pytest.param({"type": "Cop Kudos"}, "type", id="type-bad-characters"),
        pytest.param({"partitionkey": None}, "partitionkey", id="missing-partitionkey"),
        pytest.param({"datacontenttype": "text/xml"}, "datacontenttype", id="not-json-data"),
        pytest.param({"data": ["not", "an", "object"]}, "data", id="data-not-object"),
    ],
)
def test_invalid_envelope_is_rejected_naming_the_wrong_attribute(
    changes: dict[str, Any], wrong_field: str
) -> None:
    envelope = _envelope(FEEDBACK, _feedback_data())
    for key, value in changes.items():
        if value is None:
            del envelope[key]
        else:
            envelope[key] = value

    with pytest.raises(InvalidEvent) as caught:
        decode(json.dumps(envelope).encode())

    assert caught.value.reason == "invalid CloudEvents envelope"
    assert wrong_field in _fields(caught.value)


def test_naive_envelope_time_error_says_a_timezone_is_needed() -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(_envelope(FEEDBACK, _feedback_data(), time="2026-11-21T10:00:00"))

    assert "timezone" in caught.value.errors[0].message


@pytest.mark.parametrize("raw", [b"{not json", b"", "\xff\xfe", b'{"id": "e1",'])
def test_a_body_that_is_not_json_is_rejected_with_a_reason(raw: bytes | str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(raw)

    assert caught.value.reason == "body is not valid JSON"


def test_a_json_body_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(b'["a", "list"]')

    assert caught.value.reason == "invalid CloudEvents envelope"


# --- partition key ---


def test_partitionkey_that_is_not_the_catalog_key_is_rejected() -> None:
    raw = _envelope(KUDOS, _kudos_data(), partitionkey="m1")

    with pytest.raises(InvalidEvent) as caught:
        decode(raw)

    assert "community_id" in caught.value.reason
    assert _fields(caught.value) == {"partitionkey"}
    assert "'c1'" in caught.value.errors[0].message


def test_member_scoped_event_must_be_keyed_by_member_not_community() -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(_envelope(PROFILE, _profile_data(), partitionkey="c1"))

    assert _fields(caught.value) == {"partitionkey"}
    assert decode(_envelope(PROFILE, _profile_data(), partitionkey="m1")) is not None


# --- new_event ---


def test_new_event_takes_type_subject_and_key_from_the_catalog() -> None:
    event = new_event(KudosGiven.model_validate(_kudos_data()), source="recognition")

    assert event.type == KUDOS
    assert event.subject == "kudos/k1"
    assert event.partitionkey == "c1"
    assert event.source == "recognition"
    assert event.data == _kudos_data() | {"session_id": None, "artifact_id": None}


def test_new_event_keys_member_profile_by_member_id() -> None:
    event = new_event(MemberProfileUpdated.model_validate(_profile_data()), source="directory")

    assert event.type == PROFILE
    assert event.subject == "member/m1"
    assert event.partitionkey == "m1"


def test_new_event_defaults_to_a_fresh_uuid_and_the_current_utc_time() -> None:
    model = FeedbackSubmitted.model_validate(_feedback_data())
    before = datetime.now(UTC)

    first = new_event(model, source="tests/unit")
    second = new_event(model, source="tests/unit")

    assert first.id != second.id
    assert str(uuid.UUID(first.id)) == first.id
    assert first.time.utcoffset() == timedelta(0)
    assert before <= first.time <= datetime.now(UTC)


def test_new_event_keeps_an_explicit_id_and_time() -> None:
    event = new_event(
        FeedbackSubmitted.model_validate(_feedback_data()),
        source="tests/unit",
        event_id="fixed",
        time=AT,
    )

    assert (event.id, event.time) == ("fixed", AT)


def test_new_event_refuses_a_model_that_is_not_in_the_catalog() -> None:
    with pytest.raises(TypeError, match="Charter is not a catalog event"):
        new_event(Charter(purpose="x"), source="tests/unit")


def test_new_event_output_decodes_for_every_catalog_type_used_here() -> None:
    for model in (
        FeedbackSubmitted.model_validate(_feedback_data()),
        MemberProfileUpdated.model_validate(_profile_data()),
        KudosGiven.model_validate(_kudos_data()),
    ):
        decoded = decode(encode(new_event(model, source="tests/unit")).value)
        assert decoded is not None
        assert decoded.data == model


# --- notifications: keyed by member, or by channel when there is no member ---


def _notification(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "notification_id": "n1",
        "channel_kind": "slack",
        "cause_event_id": "e0",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("data", "key"),
    [
        pytest.param(_notification(member_id="m7"), "m7", id="member"),
        pytest.param(_notification(channel="#cop-testing"), "#cop-testing", id="channel"),
        pytest.param(_notification(member_id="m7", channel="#cop"), "m7", id="member-first"),
    ],
)
def test_notification_is_keyed_by_member_id_or_else_channel(data: dict[str, Any], key: str) -> None:
    event = new_event(NotificationDelivered.model_validate(data), source="notifier")

    record = encode(event)

    assert event.partitionkey == key
    assert record.key == key.encode()
    assert record.topic == "cop.notifications"
    assert event.subject == "notification/n1"
    assert decode(record.value) is not None


def test_notification_without_member_or_channel_is_invalid() -> None:
    with pytest.raises(ValidationError, match="one of member_id and channel"):
        NotificationFailed.model_validate(_notification(error="smtp 550"))

    with pytest.raises(InvalidEvent) as caught:
        decode(_envelope(DELIVERED, _notification(), partitionkey="n1"))
    assert caught.value.reason == f"invalid data for {DELIVERED}"


def test_notification_keyed_by_channel_while_carrying_a_member_is_rejected() -> None:
    data = _notification(member_id="m7", channel="#cop")

    with pytest.raises(InvalidEvent) as caught:
        decode(_envelope(DELIVERED, data, partitionkey="#cop"))

    assert _fields(caught.value) == {"partitionkey"}


# --- consumers tolerate fields added by a newer producer ---


def test_consumers_ignore_unknown_data_fields_that_strict_input_refuses() -> None:
    raw = _envelope(FEEDBACK, {**_feedback_data(), "added_in_a_later_release": 1})

    with pytest.raises(InvalidEvent):
        decode(raw)
    lenient = decode(raw, strict=False)
    assert lenient is not None
    assert lenient.data.model_dump()["rating"] == _feedback_data()["rating"]


def test_topic_of_an_encoded_record_is_a_known_domain_topic() -> None:
    event = new_event(KudosGiven.model_validate(_kudos_data()), source="tests/unit")

    assert encode(event).topic == Topic.RECOGNITION


# --- bad bytes are InvalidEvent, never another exception ---


def _nested(depth: int, leaf: str = "1") -> str:
    """`depth` levels of arrays and objects around a leaf, alternating."""
    text = leaf
    for level in range(depth):
        text = f"[{text}]" if level % 2 else f'{{"k": {text}}}'
    return text


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[" * 5000 + b"]" * 5000, id="5000-nested-arrays"),
        pytest.param(b'{"a":' * 5000 + b"1" + b"}" * 5000, id="5000-nested-objects"),
        pytest.param(b"[" * 100_000, id="100000-unclosed-arrays"),
        pytest.param(_nested(MAX_DEPTH + 1).encode(), id="one-level-too-many"),
    ],
)
def test_json_nested_deeper_than_the_limit_is_an_invalid_event_not_a_recursion_error(
    raw: bytes,
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(raw)

    assert caught.value.reason in ("body nested too deeply", "body is not valid JSON")
    assert _fields(caught.value) == {"body"}
    if raw.count(b"]") or raw.count(b"}"):  # well-formed: refused for its depth
        assert caught.value.reason == "body nested too deeply"
        assert str(MAX_DEPTH) in caught.value.errors[0].message


def test_nesting_inside_data_counts_from_the_envelope() -> None:
    # The envelope is level 1, data 2, details 3, and 61 more levels: 64 in all.
    details = {"k": json.loads(_nested(MAX_DEPTH - 3))}
    data = {"community_id": "c1", "alert": "quiet", "period": "2026-11", "details": details}
    event = _envelope("cop.health.alert_raised.v1", data, partitionkey="c1")

    assert decode(json.dumps(event).encode()) is not None
    event["data"]["details"] = {"one": details}
    with pytest.raises(InvalidEvent, match="nested too deeply"):
        decode(json.dumps(event).encode())
    with pytest.raises(InvalidEvent, match="nested too deeply"):
        decode(event)  # parsed JSON is held to the same limit


def test_the_depth_limit_is_a_parameter() -> None:
    raw = json.dumps(_envelope(FEEDBACK, _feedback_data())).encode()  # 2 levels

    assert decode(raw, max_depth=2) is not None
    with pytest.raises(InvalidEvent, match="nested too deeply"):
        decode(raw, max_depth=1)


def test_a_body_over_the_size_limit_is_refused_before_parsing() -> None:
    raw = json.dumps(_envelope(FEEDBACK, _feedback_data(plus="x" * 3000))).encode()

    assert decode(raw, max_bytes=len(raw)) is not None
    with pytest.raises(InvalidEvent) as caught:
        decode(raw, max_bytes=len(raw) - 1)

    assert caught.value.reason == "body too large"
    assert caught.value.oversized
    assert _fields(caught.value) == {"body"}
    assert f"{len(raw)} bytes" in caught.value.errors[0].message


def test_the_default_size_limit_is_kafkas_default_maximum_message_size() -> None:
    assert MAX_EVENT_BYTES == 1_048_576  # producer max.request.size; broker allows 1,048,588
    with pytest.raises(InvalidEvent, match="body too large"):
        decode(b" " * (MAX_EVENT_BYTES + 1))


@pytest.mark.parametrize(
    "raw",
    [b'{"rating": NaN}', b'{"rating": Infinity}', b'"\\ud800"', b"1" * 5000, b"\xff\xfe"],
)
def test_json_that_python_would_half_accept_is_not_valid_json(raw: bytes) -> None:
    with pytest.raises(InvalidEvent, match="not valid JSON"):
        load_json(raw)


def test_load_json_names_what_it_read() -> None:
    with pytest.raises(InvalidEvent) as caught:
        load_json(b"{", what="data")

    assert caught.value.reason == "data is not valid JSON"
    assert _fields(caught.value) == {"data"}


# --- times at the ends of the calendar ---

EDGES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"]


@pytest.mark.parametrize("edge", EDGES)
def test_an_envelope_time_with_no_utc_equivalent_is_a_validation_error(edge: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(_envelope(FEEDBACK, _feedback_data(), time=edge))

    assert caught.value.reason == "invalid CloudEvents envelope"
    assert _fields(caught.value) == {"time"}
    assert "out of range once converted to UTC" in caught.value.errors[0].message


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize(
    ("event_type", "data", "field"),
    [
        (SCHEDULED, _scheduled_data(), "starts_at"),
        ("cop.session.rescheduled.v1", {"session_id": "s1", "community_id": "c1"}, "starts_at"),
        (
            "cop.action_item.opened.v1",
            {"action_item_id": "a1", "community_id": "c1", "title": "t", "owner_id": "m1"},
            "due",
        ),
    ],
)
def test_a_data_time_with_no_utc_equivalent_names_its_field(
    edge: str, event_type: str, data: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(_envelope(event_type, {**data, field: edge}))

    assert caught.value.reason == f"invalid data for {event_type}"
    assert _fields(caught.value) == {f"data.{field}"}
    assert "0002-01-01T00:00:00Z and 9998-12-31T23:59:59Z" in caught.value.errors[0].message


def test_times_at_the_ends_of_the_calendar_in_utc_are_fine() -> None:
    item = ActionItemOpened.model_validate(
        {"action_item_id": "a", "community_id": "c", "title": "t", "owner_id": "m",
         "due": "9998-12-31T23:59:59+00:00"}
    )  # fmt: skip
    first = parse_envelope(_envelope(FEEDBACK, _feedback_data(), time="0002-01-01T10:00:00+10:00"))

    assert item.due == datetime(9998, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert first.time == datetime(2, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "edge", ["9999-12-01T00:00:00Z", "0001-01-01T00:00:00Z", "0001-12-31T23:59:59.999999Z"]
)
def test_the_calendars_first_and_last_years_are_refused_so_a_consumers_arithmetic_fits(
    edge: str,
) -> None:
    """A month, quarter or week that follows an instant in 9999 would lie past the calendar, a
    reminder a day before an instant in year 1 or the month before it before the calendar:
    refused at the gateway with the field named, never a failure in a consumer."""
    with pytest.raises(InvalidEvent) as caught:
        decode(_envelope(FEEDBACK, _feedback_data(), time=edge))
    assert _fields(caught.value) == {"time"}

    with pytest.raises(InvalidEvent) as caught:
        decode(_envelope(SCHEDULED, {**_scheduled_data(), "starts_at": edge}))
    assert _fields(caught.value) == {"data.starts_at"}


# --- every wrong field at once ---


def test_data_errors_and_a_wrong_partitionkey_are_reported_together() -> None:
    raw = _envelope(FEEDBACK, _feedback_data(rating=9), partitionkey="not-c1")

    with pytest.raises(InvalidEvent) as caught:
        decode(raw)

    assert caught.value.reason == f"invalid data for {FEEDBACK}"
    assert _fields(caught.value) == {"data.rating", "partitionkey"}


def test_envelope_data_and_partitionkey_errors_are_reported_together() -> None:
    raw = _envelope(
        FEEDBACK, _feedback_data(rating=0), partitionkey="c2", time="2026-11-21T10:00:00", id=""
    )

    with pytest.raises(InvalidEvent) as caught:
        decode(raw)

    assert caught.value.reason == "invalid CloudEvents envelope"
    assert _fields(caught.value) == {"id", "time", "data.rating", "partitionkey"}


def test_a_wrong_key_field_is_named_once_not_again_as_partitionkey() -> None:
    raw = _envelope(KUDOS, _kudos_data(community_id="bad id!"), partitionkey="c1")

    with pytest.raises(InvalidEvent) as caught:
        decode(raw)

    assert _fields(caught.value) == {"data.community_id"}


def test_validate_data_reports_data_and_key_together() -> None:
    envelope = parse_envelope(_envelope(PROFILE, _profile_data(email="nope"), partitionkey="c1"))

    with pytest.raises(InvalidEvent) as caught:
        validate_data(envelope)

    assert _fields(caught.value) == {"data.email", "partitionkey"}


def test_combining_failures_keeps_the_first_reason_and_every_field() -> None:
    first = InvalidEvent("first", [FieldError("a", "x")])
    second = InvalidEvent("second", [FieldError("b", "y"), FieldError("c", "z")])

    combined = InvalidEvent.combine([first, second])

    assert combined.reason == "first"
    assert [e.field for e in combined.errors] == ["a", "b", "c"]
    assert InvalidEvent.combine([second]) is second
