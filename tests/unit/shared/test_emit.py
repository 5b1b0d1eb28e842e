"""`copctl emit`: `key=value` flags and files become a valid, correctly keyed catalog event."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from copctl.emit import build_event, parse_assignments
from shared.events.codec import InvalidEvent, decode, encode

FEEDBACK = "cop.feedback.submitted.v1"
FEEDBACK_FLAGS = ["session_id=s1", "community_id=c1", "member_id=m1", "rating=4"]


def _build(
    event_type: str,
    assignments: list[str],
    *,
    file: Path | None = None,
    event_id: str | None = None,
) -> Any:
    return build_event(
        event_type, file=file, assignments=assignments, source="copctl", event_id=event_id
    )


def _fields(error: InvalidEvent) -> set[str]:
    return {e.field for e in error.errors}


def _whole_event(**data_changes: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "from-file-1",
        "source": "calendar-bot",
        "type": FEEDBACK,
        "time": "2026-11-21T10:00:00Z",
        "partitionkey": "c1",
        "data": {
            "session_id": "s1",
            "community_id": "c1",
            "member_id": "m1",
            "rating": 3,
            **data_changes,
        },
    }


# --- parse_assignments ---


def test_values_are_parsed_as_json_when_they_are_json() -> None:
    parsed = parse_assignments(
        ["n=4", "f=1.5", "yes=true", "none=null", 'tags=["a","b"]', 'obj={"k":1}', 's="42"']
    )

    assert parsed == {
        "n": 4,
        "f": 1.5,
        "yes": True,
        "none": None,
        "tags": ["a", "b"],
        "obj": {"k": 1},
        "s": "42",
    }


def test_values_that_are_not_json_are_plain_strings() -> None:
    parsed = parse_assignments(["title=Mutation testing", "empty=", "url=https://x.example/?a=b=c"])

    assert parsed == {"title": "Mutation testing", "empty": "", "url": "https://x.example/?a=b=c"}


def test_dotted_keys_build_nested_objects() -> None:
    parsed = parse_assignments(["charter.purpose=Share", 'charter.goals=["g"]', "a.b.c=1"])

    assert parsed == {"charter": {"purpose": "Share", "goals": ["g"]}, "a": {"b": {"c": 1}}}


def test_a_later_flag_overrides_an_earlier_one() -> None:
    assert parse_assignments(["rating=2", "rating=5"]) == {"rating": 5}


@pytest.mark.parametrize("item", ["rating", "=4", ""])
def test_an_item_without_key_and_equals_sign_is_invalid(item: str) -> None:
    with pytest.raises(InvalidEvent, match="key=value"):
        parse_assignments(["ok=1", item])


@pytest.mark.parametrize(
    "items",
    [["a=1", "a.b=2"], ["a.b=1", "a=2", "a.c=3"], ["tags=[1]", "tags.x=1"]],
    ids=["scalar-then-nested", "nested-then-scalar-then-nested", "list-then-nested"],
)
def test_a_dotted_key_under_a_non_object_value_is_invalid_not_a_crash(items: list[str]) -> None:
    # copctl catches only InvalidEvent; anything else is a traceback for a typo on the command line.
    with pytest.raises(InvalidEvent):
        parse_assignments(items)


# --- build_event from flags ---


def test_flags_build_a_valid_event_keyed_by_the_catalog() -> None:
    event = _build(FEEDBACK, [*FEEDBACK_FLAGS, "plus=the demo", "applied=true"], event_id="e-42")

    assert event.id == "e-42"
    assert event.type == FEEDBACK
    assert event.source == "copctl"
    assert event.partitionkey == "c1"
    assert event.subject == "session/s1"
    assert event.data["rating"] == 4
    assert event.data["applied"] is True
    assert event.data["plus"] == "the demo"
    decoded = decode(encode(event).value)
    assert decoded is not None
    assert decoded.envelope == event


def test_flags_build_nested_data_for_a_community() -> None:
    event = _build(
        "cop.community.created.v1",
        [
            "community_id=c9",
            "name=Testing",
            "domain=quality",
            "charter.purpose=Share testing practice",
            'charter.goals=["fewer flaky tests"]',
            "leader_id=m1",
        ],
    )

    assert event.partitionkey == "c9"
    assert event.data["charter"]["purpose"] == "Share testing practice"
    assert event.data["charter"]["goals"] == ["fewer flaky tests"]


def test_unknown_event_type_is_invalid() -> None:
    with pytest.raises(InvalidEvent, match=r"unknown event type 'cop\.nope\.v1'"):
        _build("cop.nope.v1", FEEDBACK_FLAGS)


def test_invalid_data_from_flags_names_the_wrong_fields() -> None:
    flags = ["session_id=s1", "community_id=c1", "rating=9", "ratting=3"]

    with pytest.raises(InvalidEvent) as caught:
        _build(FEEDBACK, flags)

    assert caught.value.reason == f"invalid data for {FEEDBACK}"
    assert _fields(caught.value) == {"data.rating", "data.member_id", "data.ratting"}


def test_a_json_number_where_an_id_is_expected_is_invalid() -> None:
    flags = ["session_id=s1", "community_id=42", "member_id=m1", "rating=4"]

    with pytest.raises(InvalidEvent) as caught:
        _build(FEEDBACK, flags)

    assert _fields(caught.value) == {"data.community_id"}


# --- build_event from a file ---


def test_a_file_with_just_data_is_wrapped_in_a_new_envelope(tmp_path: Path) -> None:
    file = tmp_path / "data.json"
    file.write_text(json.dumps(_whole_event()["data"]))

    event = _build(FEEDBACK, ["rating=5"], file=file)

    assert event.source == "copctl"
    assert event.partitionkey == "c1"
    assert event.data["rating"] == 5
    assert event.data["member_id"] == "m1"


def test_a_file_with_a_whole_cloudevent_keeps_its_envelope(tmp_path: Path) -> None:
    file = tmp_path / "event.json"
    file.write_text(json.dumps(_whole_event()))

    event = _build(FEEDBACK, [], file=file)

    assert event.id == "from-file-1"
    assert event.source == "calendar-bot"
    assert event.type == FEEDBACK
    assert event.partitionkey == "c1"
    assert event.data["rating"] == 3


def test_flags_override_data_of_a_whole_cloudevent_file(tmp_path: Path) -> None:
    file = tmp_path / "event.json"
    file.write_text(json.dumps(_whole_event()))

    event = _build(FEEDBACK, ["rating=5", "delta=shorter intro"], file=file)

    assert event.data["rating"] == 5
    assert event.data["delta"] == "shorter intro"
    assert event.id == "from-file-1"


def test_a_whole_cloudevent_file_with_invalid_data_names_the_field(tmp_path: Path) -> None:
    file = tmp_path / "event.json"
    file.write_text(json.dumps(_whole_event(rating=0)))

    with pytest.raises(InvalidEvent) as caught:
        _build(FEEDBACK, [], file=file)

    assert _fields(caught.value) == {"data.rating"}


def test_a_whole_cloudevent_file_with_a_wrong_partitionkey_is_invalid(tmp_path: Path) -> None:
    file = tmp_path / "event.json"
    file.write_text(json.dumps({**_whole_event(), "partitionkey": "m1"}))

    with pytest.raises(InvalidEvent) as caught:
        _build(FEEDBACK, [], file=file)

    assert _fields(caught.value) == {"partitionkey"}


def test_a_whole_cloudevent_file_of_another_type_is_invalid(tmp_path: Path) -> None:
    file = tmp_path / "event.json"
    file.write_text(json.dumps(_whole_event()))

    with pytest.raises(InvalidEvent, match=r"not cop\.session\.cancelled\.v1"):
        _build("cop.session.cancelled.v1", [], file=file)


def test_a_whole_cloudevent_file_of_an_unknown_type_is_invalid(tmp_path: Path) -> None:
    file = tmp_path / "event.json"
    file.write_text(json.dumps({**_whole_event(), "type": "cop.feedback.submitted.v2"}))

    with pytest.raises(InvalidEvent, match=re.escape(f"not {FEEDBACK}")):
        _build(FEEDBACK, [], file=file)


def test_a_file_that_is_not_json_is_invalid_not_a_crash(tmp_path: Path) -> None:
    # copctl catches only InvalidEvent; a JSONDecodeError escapes as a traceback.
    file = tmp_path / "event.json"
    file.write_text("{ this is not json")

    with pytest.raises(InvalidEvent):
        _build(FEEDBACK, [], file=file)


def test_a_dotted_flag_merges_into_nested_data_from_the_file(tmp_path: Path) -> None:
    file = tmp_path / "data.json"
    file.write_text(
        json.dumps(
            {
                "community_id": "c9",
                "name": "Testing",
                "domain": "quality",
                "charter": {"purpose": "Share testing practice"},
                "leader_id": "m1",
            }
        )
    )

    event = _build("cop.community.created.v1", ["charter.scope=backend teams"], file=file)

    assert event.data["charter"]["scope"] == "backend teams"
    assert event.data["charter"]["purpose"] == "Share testing practice"
