"""The backlog API's OpenAPI document: its bodies keep the catalog's constraints, the list is a
page, and every answer is typed."""

from typing import Any

import pytest

from services.events.entrypoints import topics
from shared.events import catalog
from tests.unit.events.openapi import openapi_of


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return openapi_of(topics.router)


def answer(spec: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    content = spec["paths"][path][method]["responses"][status]["content"]["application/json"]
    ref = str(content["schema"]["$ref"]).rsplit("/", 1)[-1]
    schema: dict[str, Any] = spec["components"]["schemas"][ref]
    return schema


def test_a_proposal_is_the_event_without_what_the_path_and_the_token_supply(
    spec: dict[str, Any],
) -> None:
    body = spec["components"]["schemas"]["ProposeTopic"]
    supplied = {"community_id", "proposed_by"}
    assert set(body["properties"]) == set(catalog.TopicProposed.model_fields) - supplied
    assert body["properties"]["title"]["maxLength"] == 200
    assert body["additionalProperties"] is False


def test_every_call_answers_a_typed_body(spec: dict[str, Any]) -> None:
    created = answer(spec, "/communities/{community_id}/topics", "post", "201")
    assert "topic_id" in created["properties"]
    listed = answer(spec, "/communities/{community_id}/topics", "get", "200")
    assert {"total", "page", "size", "items"} <= set(listed["properties"])
    for method in ("put", "delete"):
        vote = answer(spec, "/topics/{topic_id}/vote", method, "200")
        assert {"voted_by_me", "budget", "active", "left"} <= set(vote["properties"])
    mine = answer(spec, "/communities/{community_id}/votes/me", "get", "200")
    assert {"budget", "active", "left"} <= set(mine["properties"])
    scheduled = answer(spec, "/topics/{topic_id}/schedule", "post", "202")
    assert {"session_id", "topic_id", "event_id"} <= set(scheduled["properties"])
    for action in ("decline", "merge", "reopen"):
        assert (
            "event_id"
            in answer(spec, f"/topics/{{topic_id}}/{action}", "post", "202")["properties"]
        )


def test_the_list_is_filtered_by_status_and_sorted_three_ways(spec: dict[str, Any]) -> None:
    parameters = {
        p["name"]: p
        for p in spec["paths"]["/communities/{community_id}/topics"]["get"]["parameters"]
    }
    sort = spec["components"]["schemas"]["TopicOrder"]
    status = spec["components"]["schemas"]["TopicStatus"]
    assert sort["enum"] == ["wanted", "new", "ready"]
    assert status["enum"] == ["open", "scheduled", "done", "declined", "merged"]
    assert {"status", "sort", "page", "size"} <= set(parameters)
