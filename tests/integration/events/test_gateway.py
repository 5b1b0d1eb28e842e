"""The inbound gateway: HTTP and `cop.inbound`, on the real broker, MongoDB protocol and Redis."""

import uuid
from typing import Any

import pytest

from services.events.commands.ingest import platform_id
from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.events.conftest import EventsApp
from tests.integration.events.inbound import (
    FEEDBACK,
    PROFILE,
    auth,
    feedback_event,
    profile_event,
    register,
    topic,
)
from tests.integration.kafka_io import body, headers, read_all
from tests.problems import fields, problem_of

pytestmark = pytest.mark.integration


async def assert_routed_once(
    infra: Infrastructure, events: EventsApp, key: str, original_id: str
) -> None:
    """The event of `original_id` reached its domain topic once: behind it, only a marker."""
    marker = profile_event("directory")
    await events.client.post("/ingest", json=marker, headers=auth(key))
    records = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=3, timeout_s=3
    )
    assert sorted(body(r)["originalid"] for r in records) == sorted([original_id, marker["id"]])


async def test_a_valid_event_is_routed_to_its_domain_topic_with_its_key(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    event = profile_event("directory/ldap")
    response = await events.client.post("/ingest", json=event, headers=auth(key))
    assert response.status_code == 202, response.text
    routed_id = platform_id("directory/ldap", event["id"])
    assert response.json() == {
        "status": "accepted", "id": event["id"], "event_id": routed_id, "type": PROFILE,
        "topic": "cop.communities",
    }  # fmt: skip
    (record,) = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=1
    )
    assert record.key == event["partitionkey"].encode()
    assert headers(record)["ce_type"] == PROFILE
    assert body(record)["id"] == routed_id
    assert body(record)["originalid"] == event["id"]
    assert body(record)["source"] == "directory/ldap"


async def test_a_resent_event_is_a_duplicate_and_not_published_twice(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    event = profile_event("directory")
    first = await events.client.post("/ingest", json=event, headers=auth(key))
    again = await events.client.post("/ingest", json=event, headers=auth(key))
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    await assert_routed_once(infra, events, key, event["id"])


async def test_the_same_id_from_two_sources_is_two_events_with_distinct_platform_ids(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    team_a = {**profile_event("directory/team-a"), "id": "42"}
    team_b = {**profile_event("directory/team-b"), "id": "42"}
    first = await events.client.post("/ingest", json=team_a, headers=auth(key))
    second = await events.client.post("/ingest", json=team_b, headers=auth(key))
    assert first.json()["status"] == second.json()["status"] == "accepted"
    assert first.json()["event_id"] != second.json()["event_id"]


async def test_an_invalid_event_gets_problem_json_with_every_wrong_field_and_a_rejected_record(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "survey-bot", [FEEDBACK])
    event = {**feedback_event("survey-bot", member_id="", rating=9), "id": "f-1"}
    response = await events.client.post("/ingest", json=event, headers=auth(key))
    problem = problem_of(response, 422)
    assert problem["detail"] == f"invalid data for {FEEDBACK}"
    assert fields(problem) == {"data.member_id", "data.rating"}
    (rejected,) = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.INBOUND_REJECTED), expect=1
    )
    record = body(rejected)
    assert record["reason"] == f"invalid data for {FEEDBACK}"
    assert record["source"] == "survey-bot"
    assert record["event"]["id"] == "f-1"
    assert headers(rejected)["cop_via"] == "http"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": FEEDBACK}, "event type not allowed for this source"),
        ({"source": "someone-else"}, "source does not match the API key"),
        ({"type": "cop.unknown.v1"}, "unknown event type"),
        ({"partitionkey": "wrong"}, "partitionkey must be the event's member_id"),
        ({"specversion": "0.3", "id": ""}, "invalid CloudEvents envelope"),
    ],
)
async def test_events_the_source_may_not_send_are_rejected_with_the_reason(
    infra: Infrastructure, events: EventsApp, change: dict[str, Any], reason: str
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    response = await events.client.post(
        "/ingest", json={**profile_event("directory"), **change}, headers=auth(key)
    )
    assert response.status_code == 422
    assert response.json()["detail"] == reason


async def test_requests_without_a_valid_api_key_get_401(
    infra: Infrastructure, events: EventsApp
) -> None:
    await register(infra, events, "directory", [PROFILE])
    missing = await events.client.post("/ingest", json=profile_event("directory"))
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = await events.client.post(
        "/ingest", json=profile_event("directory"), headers=auth("cop_not-a-key")
    )
    assert wrong.status_code == 401


async def test_a_batch_reports_each_event_and_one_bad_event_does_not_sink_it(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    seen = profile_event("directory")
    await events.client.post("/ingest", json=seen, headers=auth(key))
    good = [profile_event("directory") for _ in range(3)]
    batch = [
        good[0],
        {**profile_event("directory"), "data": {"member_id": "x"}},
        good[1],
        seen,
        "not an object",
        good[2],
    ]
    response = await events.client.post("/ingest", json=batch, headers=auth(key))
    assert response.status_code == 200
    result = response.json()
    assert (result["accepted"], result["duplicate"], result["rejected"]) == (3, 1, 2)
    assert [r["status"] for r in result["results"]] == [
        "accepted", "rejected", "accepted", "duplicate", "rejected", "accepted",
    ]  # fmt: skip
    # Every wrong field at once: the data's, and the key that is not the data's member_id.
    assert fields(result["results"][1]) == {
        "data.name", "data.email", "partitionkey",
    }  # fmt: skip
    assert result["results"][4]["reason"] == "an event must be a JSON object"
    records = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=4
    )
    assert sorted(body(r)["originalid"] for r in records) == sorted(
        [seen["id"], *(g["id"] for g in good)]
    )
    too_big = await events.client.post(
        "/ingest", json=[good[0]] * (events.settings.ingest_max_batch + 1), headers=auth(key)
    )
    assert too_big.status_code == 413


async def test_a_batch_keeps_each_partition_keys_order_on_the_topic(
    infra: Infrastructure, events: EventsApp
) -> None:
    """A batch's keys go through at once, but each key's events keep the batch's order."""
    key = await register(infra, events, "directory", [PROFILE])
    members = [f"m-{uuid.uuid4().hex[:8]}" for _ in range(5)]
    batch = [profile_event("directory", members[i % 5], name=f"Step {i}") for i in range(100)]
    response = await events.client.post("/ingest", json=batch, headers=auth(key))
    assert response.status_code == 200
    assert response.json()["accepted"] == 100
    assert [r["id"] for r in response.json()["results"]] == [e["id"] for e in batch]
    records = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=100
    )
    for member in members:
        on_topic = [body(r)["data"]["name"] for r in records if r.key == member.encode()]
        sent = [e["data"]["name"] for e in batch if e["partitionkey"] == member]
        assert on_topic == sent


async def test_an_id_twice_in_one_batch_is_published_once(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    first = profile_event("directory")
    again = {**profile_event("directory"), "id": first["id"]}  # another key, the same id
    response = await events.client.post("/ingest", json=[first, again], headers=auth(key))
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "duplicate"]
    await assert_routed_once(infra, events, key, first["id"])


async def test_the_rate_limit_per_source_answers_429_with_retry_after(
    infra: Infrastructure, events: EventsApp
) -> None:
    noisy = await register(infra, events, "noisy", [PROFILE], limit=5)
    calm = await register(infra, events, "calm", [PROFILE], limit=5)
    # More than a minute's budget in one request is refused whatever the window: no flakiness
    # at a minute boundary.
    limited = await events.client.post(
        "/ingest", json=[profile_event("noisy") for _ in range(6)], headers=auth(noisy)
    )
    problem_of(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    within = await events.client.post(
        "/ingest", json=[profile_event("noisy") for _ in range(5)], headers=auth(noisy)
    )
    assert within.status_code == 200  # the refused batch did not use up the budget
    other = await events.client.post("/ingest", json=profile_event("calm"), headers=auth(calm))
    assert other.status_code == 202  # each source has its own budget


async def test_an_event_produced_straight_to_cop_inbound_reaches_its_domain_topic(
    infra: Infrastructure, events: EventsApp
) -> None:
    await register(infra, events, "calendar", [PROFILE])
    event = profile_event("calendar")
    await events.send_inbound(event)
    stranger = profile_event("not-registered")
    await events.send_inbound(stranger)
    (routed,) = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=1
    )
    assert body(routed)["originalid"] == event["id"]
    assert routed.key == event["partitionkey"].encode()
    (rejected,) = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.INBOUND_REJECTED), expect=1
    )
    assert body(rejected)["reason"] == "unregistered source"
    assert headers(rejected)["cop_via"] == "kafka"

    await events.wait_member(
        event["data"]["member_id"], what="the inbound profile in the events projection"
    )
