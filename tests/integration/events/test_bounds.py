"""Lists are bounded and attendees are real: a body, or another system's event, with more items
than `shared.events.bounds` allows is a 422 naming the field (recorded as rejected by the
gateway), and a session is held only with members of its community or its hosts."""

import uuid
from typing import Any

import pytest

from shared.events.bounds import (
    MAX_AGENDA_ITEMS,
    MAX_ATTENDEES,
    MAX_CHARTER_ITEMS,
    MAX_SPEAKERS,
    MAX_SPONSORS,
    MAX_TAGS,
)
from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.apps import bearer
from tests.integration.events.conftest import EventsApp
from tests.integration.events.inbound import auth, register, structured_event, topic
from tests.integration.events.test_sessions import iso, schedule
from tests.integration.kafka_io import body, headers, read_all
from tests.problems import problem_of

pytestmark = pytest.mark.integration

HELD = "cop.session.held.v1"


def ids(count: int, prefix: str = "ghost") -> list[str]:
    return [f"{prefix}-{i}" for i in range(count)]


def named_fields(response: Any) -> list[str]:
    return [e["field"] for e in problem_of(response, 422)["errors"]]


CHARTER = {"purpose": "Share how we test"}
COMMUNITY = {"name": "Guild", "domain": "testing", "leader_id": "lea", "charter": CHARTER}
SESSION = {"title": "Kata", "format": "workshop", "starts_at": iso(3), "facilitator_id": "lea"}
# (path under the community, body, the field named)
OVER_LONG: dict[str, tuple[str, dict[str, Any], str]] = {
    "charter goals": (
        "", {**COMMUNITY, "charter": {**CHARTER, "goals": ids(MAX_CHARTER_ITEMS + 1)}},
        "charter.goals",
    ),
    "success measures": (
        "", {**COMMUNITY, "charter": {**CHARTER, "success_measures": ids(MAX_CHARTER_ITEMS + 1)}},
        "charter.success_measures",
    ),
    "sponsors": ("", {**COMMUNITY, "sponsor_ids": ids(MAX_SPONSORS + 1)}, "sponsor_ids"),
    "speakers": ("/sessions", {**SESSION, "speaker_ids": ids(MAX_SPEAKERS + 1)}, "speaker_ids"),
    "agenda": ("/sessions", {**SESSION, "agenda": ids(MAX_AGENDA_ITEMS + 1)}, "agenda"),
    "tags": ("/sessions", {**SESSION, "tags": ids(MAX_TAGS + 1, "tag")}, "tags"),
}  # fmt: skip


@pytest.mark.parametrize("case", OVER_LONG)
async def test_an_over_long_list_in_a_command_is_a_422_naming_the_field(
    events: EventsApp, case: str
) -> None:
    path, payload, field = OVER_LONG[case]
    community_id = await events.new_community() if path else "unused"
    url = f"/communities/{community_id}{path}" if path else "/communities"
    assert named_fields(await events.client.post(url, json=payload)) == [field]
    at_the_bound = {**payload}
    if field.startswith("charter."):
        key = field.removeprefix("charter.")
        at_the_bound["charter"] = {**CHARTER, key: payload["charter"][key][:-1]}
    else:
        at_the_bound[field] = payload[field][:-1]
    accepted = await events.client.post(url, json=at_the_bound)
    assert accepted.status_code == 202, accepted.text


async def test_a_member_cannot_hold_their_session_with_made_up_attendees(
    events: EventsApp,
) -> None:
    community_id = await events.new_community()
    await events.join(community_id, "ann")
    fay = bearer("fay")
    joined = await events.client.post(
        f"/communities/{community_id}/members", json={"member_id": "fay"}, headers=fay
    )
    assert joined.status_code == 202, joined.text
    session_id = await schedule(events, community_id, facilitator_id="fay", speaker_ids=["gus"])
    hold = f"/sessions/{session_id}/hold"

    crowd = await events.client.post(
        hold, json={"attendee_ids": ids(MAX_ATTENDEES + 1)}, headers=fay
    )
    assert named_fields(crowd) == ["attendee_ids"]
    assert f"at most {MAX_ATTENDEES}" in crowd.json()["errors"][0]["message"]

    strangers = await events.client.post(
        hold, json={"attendee_ids": ["ann", "ghost-2", "ghost-1"]}, headers=fay
    )
    assert named_fields(strangers) == ["attendee_ids"]
    problem = strangers.json()
    assert (problem["code"], problem["field"]) == ("not_members", "attendee_ids")
    assert problem["values"] == ["ghost-1", "ghost-2"]
    assert problem["type"] == "urn:cop:problem:events:not_members"
    assert "ghost-1, ghost-2" in problem["detail"]

    check_in = f"/sessions/{session_id}/check-ins"
    for who, token in (("ghost-1", fay), ("zed", bearer("zed"))):  # by the host, by oneself
        refused = await events.client.post(check_in, json={"member_id": who}, headers=token)
        assert named_fields(refused) == ["member_id"]
        assert refused.json()["values"] == [who]
    assert (await events.get(f"/sessions/{session_id}"))["status"] == "scheduled"

    # members and the session's hosts (a guest speaker need not join) attend
    held = await events.client.post(
        hold, params={"wait": "true"}, json={"attendee_ids": ["ann", "gus", "fay"]}, headers=fay
    )
    assert held.status_code == 202, held.text
    session = await events.get(f"/sessions/{session_id}")
    assert (session["status"], session["attendee_ids"]) == ("held", ["ann", "fay", "gus"])


def held_event(source: str, attendees: list[str]) -> dict[str, Any]:
    community_id = f"c-{uuid.uuid4().hex[:8]}"
    return structured_event(
        source,
        HELD,
        community_id,
        {
            "session_id": f"s-{uuid.uuid4().hex[:8]}",
            "community_id": community_id,
            "held_at": "2026-12-03T12:00:00Z",
            "duration_minutes": 60,
            "format": "demo_day",
            "title": "Demo day",
            "facilitator_id": "ada",
            "attendee_ids": attendees,
        },
    )


async def test_the_gateway_refuses_over_long_lists_from_other_systems(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "calendar", [HELD])
    over = held_event("calendar", ids(MAX_ATTENDEES + 1, "m"))
    refused = await events.client.post("/ingest", json=over, headers=auth(key))
    assert named_fields(refused) == ["data.attendee_ids"]
    at_the_bound = held_event("calendar", ids(MAX_ATTENDEES, "m"))
    accepted = await events.client.post("/ingest", json=at_the_bound, headers=auth(key))
    assert accepted.status_code == 202, accepted.text

    straight = held_event("calendar", ids(MAX_ATTENDEES + 1, "m"))
    await events.send_inbound(straight)
    rejected = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.INBOUND_REJECTED), expect=2
    )
    by_id = {body(r)["event"]["id"]: r for r in rejected}
    assert set(by_id) == {over["id"], straight["id"]}
    record = by_id[straight["id"]]
    assert headers(record)["cop_via"] == "kafka"
    assert body(record)["reason"] == f"invalid data for {HELD}"
    assert [e["field"] for e in body(record)["errors"]] == ["data.attendee_ids"]
    (routed,) = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.SESSIONS), expect=1, timeout_s=3
    )
    assert body(routed)["originalid"] == at_the_bound["id"]
