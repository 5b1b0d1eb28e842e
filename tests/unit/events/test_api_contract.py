"""The events API's OpenAPI document: typed answers for every query, lists as pages, and request
bodies that are catalog events without what the path or the service supplies."""

from typing import Any

import pytest

from services.events.entrypoints import http
from shared.events import catalog
from tests.unit.events.openapi import openapi_of


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return openapi_of(http.router)


def schema_name(schema: dict[str, Any]) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def test_every_query_documents_a_typed_answer(spec: dict[str, Any]) -> None:
    untyped = []
    for path, operations in spec["paths"].items():
        if "get" not in operations:
            continue
        schema = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        if "$ref" not in schema and "anyOf" not in schema:
            untyped.append(path)
    assert untyped == []


@pytest.mark.parametrize(
    "path",
    [
        "/communities",
        "/communities/{community_id}/members",
        "/communities/{community_id}/sessions",
        "/communities/{community_id}/action-items",
    ],
)
def test_every_list_is_a_page_with_total_and_items(spec: dict[str, Any], path: str) -> None:
    answer = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    page = spec["components"]["schemas"][schema_name(answer["schema"])]
    assert {"total", "page", "size", "items"} <= set(page["properties"])
    assert page["properties"]["items"]["type"] == "array"


# body -> (its catalog event, the fields the path or the service supplies)
BODIES: dict[str, tuple[type[catalog.EventData], set[str]]] = {
    "CreateCommunity": (catalog.CommunityCreated, {"created_by"}),
    "UpdateCommunity": (catalog.CommunityUpdated, {"community_id", "updated_by"}),
    "ChangeLeader": (catalog.CommunityLeaderChanged, {"community_id", "previous_leader_id"}),
    "Join": (catalog.MemberJoined, {"community_id"}),
    "Profile": (catalog.MemberProfileUpdated, {"member_id"}),
    "LinkChatIdentity": (catalog.MemberChatLinked, {"member_id"}),
    "MapChatChannel": (
        catalog.CommunityChatChannelMapped,
        {"community_id", "platform", "workspace_id", "channel_id", "mapped_by"},
    ),
    "Schedule": (catalog.SessionScheduled, {"community_id", "topic_id", "voter_ids"}),
    "Reschedule": (catalog.SessionRescheduled, {"session_id", "community_id"}),
    "Cancel": (catalog.SessionCancelled, {"session_id", "community_id"}),
    "CheckIn": (catalog.AttendanceRecorded, {"session_id", "community_id", "checked_in_at"}),
    "Hold": (
        catalog.SessionHeld,
        {
            "session_id",
            "community_id",
            "format",
            "title",
            "speaker_ids",
            "topic_id",
            "topic_proposed_by",
        },
    ),
    "GiveFeedback": (catalog.FeedbackSubmitted, {"session_id", "community_id", "member_id"}),
    "OpenActionItem": (catalog.ActionItemOpened, {"community_id", "session_id"}),
    "CloseActionItem": (
        catalog.ActionItemClosed,
        {"action_item_id", "community_id", "session_id", "title", "owner_id"},
    ),
}


@pytest.mark.parametrize("body", BODIES)
def test_request_bodies_are_catalog_events_without_what_the_path_supplies(
    spec: dict[str, Any], body: str
) -> None:
    event, supplied = BODIES[body]
    schema = spec["components"]["schemas"][body]
    assert set(schema["properties"]) == set(event.model_fields) - supplied
    assert schema["additionalProperties"] is False


def constraints(schema: dict[str, Any]) -> dict[str, Any]:
    """What a property's schema allows, whether or not it may be left out or be null."""
    schema = {k: v for k, v in schema.items() if k not in ("default", "title")}
    options = [o for o in schema.get("anyOf", []) if o != {"type": "null"}]
    return options[0] if len(options) == 1 else schema


@pytest.mark.parametrize("body", BODIES)
def test_each_body_field_allows_what_its_event_field_allows(body: str) -> None:
    event, _ = BODIES[body]
    given = getattr(http, body).model_json_schema()["properties"]
    defined = event.model_json_schema()["properties"]
    assert {f: constraints(s) for f, s in given.items()} == {
        f: constraints(defined[f]) for f in given
    }


def test_body_fields_keep_the_catalogs_constraints(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    duration = schemas["Schedule"]["properties"]["duration_minutes"]
    assert (duration["minimum"], duration["maximum"], duration["default"]) == (5, 24 * 60, 60)
    held = schemas["Hold"]["properties"]["duration_minutes"]["anyOf"][0]
    assert (held["minimum"], held["maximum"]) == (1, 24 * 60)
    assert "duration_minutes" not in schemas["Schedule"].get("required", [])
