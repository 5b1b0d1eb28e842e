"""Bad input on `POST /ingest` and `cop.inbound` is a 4xx problem naming the field, never a 500
or a 503: bodies nested too deeply, times with no UTC equivalent, events larger than the broker
accepts (recorded as rejected without their payload), and every wrong field named at once."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.events.bootstrap import bootstrap
from services.events.settings import EventsSettings
from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.apps import serving_anew, settings_for
from tests.integration.events.conftest import EventsApp
from tests.integration.events.inbound import (
    PROFILE,
    auth,
    feedback_event,
    profile_event,
    register,
    structured_event,
    topic,
)
from tests.integration.kafka_io import assert_nothing_on, body, headers, read_all
from tests.problems import fields, problem_of

pytestmark = pytest.mark.integration

SCHEDULED = "cop.session.scheduled.v1"
ACTION_ITEM = "cop.action_item.opened.v1"
PUBLISHED = "cop.artifact.published.v1"
DEEPLY_NESTED = b"[" * 5000 + b"]" * 5000
EDGES = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    # a UTC equivalent, but in the calendar's first or last year, where a consumer's arithmetic
    # (a reminder a day before, the month before or after) would leave the calendar
    "0001-01-01T00:00:00Z",
    "9999-01-01T00:00:00Z",
]
BROKER_LIMIT = 100_000  # `KAFKA_MAX_RECORD_BYTES` of the `small_broker` events service


# Each type's data unless a test says otherwise: the field that takes a new id, and the rest.
SAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    SCHEDULED: (
        "session_id",
        {
            "title": "Journal club",
            "format": "journal_club",
            "starts_at": "2026-12-03T12:00:00Z",
            "duration_minutes": 45,
            "facilitator_id": "ada",
        },
    ),
    ACTION_ITEM: ("action_item_id", {"title": "Try mob programming", "owner_id": "ada"}),
    PUBLISHED: (
        "artifact_id",
        {"kind": "pattern", "title": "Strangler fig", "body_markdown": "", "author_ids": ["ada"]},
    ),
}


def event(source: str, event_type: str, **data: Any) -> dict[str, Any]:
    """An event of community c1 with the sample data of its type; `data` replaces fields."""
    id_field, sample = SAMPLES[event_type]
    payload = {id_field: f"{id_field[0]}-{uuid.uuid4().hex[:8]}", "community_id": "c1", **sample}
    return structured_event(source, event_type, "c1", {**payload, **data})


def artifact(source: str, size: int) -> dict[str, Any]:
    """An artifact whose JSON is about `size` bytes, most of it its Markdown body."""
    return event(source, PUBLISHED, body_markdown="x" * (size - 300))


async def ingest_artifact(
    infra: Infrastructure, events: EventsApp, size: int
) -> tuple[dict[str, Any], httpx.Response]:
    """`POST /ingest` an artifact of about `size` bytes from a source registered for it."""
    key = await register(infra, events, "wiki", [PUBLISHED])
    sent = artifact("wiki", size)
    return sent, await events.client.post("/ingest", json=sent, headers=auth(key))


@pytest.fixture
async def small_broker(infra: Infrastructure, unique: str) -> AsyncIterator[EventsApp]:
    """The events service in front of a broker that takes records of at most `BROKER_LIMIT`
    bytes (the default 1 MiB is more than any valid event of the catalog needs)."""
    settings = settings_for(
        EventsSettings, infra, f"evs{unique}", kafka_max_record_bytes=BROKER_LIMIT
    )
    async with serving_anew(infra, settings, bootstrap) as client:
        yield EventsApp(client, settings)


async def rejections(infra: Infrastructure, events: EventsApp, expect: int = 1) -> list[Any]:
    return await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.INBOUND_REJECTED), expect=expect
    )


# --- deeply nested JSON ---


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/cloudevents+json", "application/cloudevents-batch+json"],
)
async def test_deeply_nested_json_gets_400_problem_json_and_is_recorded(
    infra: Infrastructure, events: EventsApp, content_type: str
) -> None:
    key = await register(infra, events, "directory", [PROFILE])

    response = await events.client.post(
        "/ingest", content=DEEPLY_NESTED, headers={"content-type": content_type, **auth(key)}
    )

    problem = problem_of(response, 400)
    assert problem["detail"] == "body nested too deeply"
    assert fields(problem) == {"body"}
    (rejected,) = await rejections(infra, events)
    record = body(rejected)
    assert record["reason"] == "body nested too deeply"
    assert record["source"] == "directory"
    assert record["event"] == {"size": len(DEEPLY_NESTED), "payload": "omitted"}
    assert headers(rejected)["cop_via"] == "http"


async def test_deeply_nested_data_in_binary_mode_names_data(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    ce_headers = {"ce-specversion": "1.0", "ce-id": "deep-1", "ce-source": "directory",
                  "ce-type": PROFILE, "content-type": "application/json"}  # fmt: skip

    response = await events.client.post(
        "/ingest", content=DEEPLY_NESTED, headers={**ce_headers, **auth(key)}
    )

    assert response.status_code == 400, response.text
    assert fields(response.json()) == {"data"}
    (rejected,) = await rejections(infra, events)
    assert body(rejected)["event"]["id"] == "deep-1"


# --- times with no UTC equivalent ---


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize(
    ("event_type", "change", "field"),
    [
        (SCHEDULED, "time", "time"),
        (SCHEDULED, "starts_at", "data.starts_at"),
        (ACTION_ITEM, "due", "data.due"),
    ],
    ids=["time", "starts_at", "due"],
)
async def test_a_time_at_the_end_of_the_calendar_gets_422_naming_the_field(
    infra: Infrastructure, events: EventsApp, edge: str, event_type: str, change: str, field: str
) -> None:
    key = await register(infra, events, "calendar", [SCHEDULED, ACTION_ITEM])
    sent = event("calendar", event_type)
    if change == "time":
        sent["time"] = edge
    else:
        sent["data"][change] = edge

    response = await events.client.post("/ingest", json=sent, headers=auth(key))

    assert response.status_code == 422, response.text
    problem = response.json()
    assert fields(problem) == {field}
    assert "out of range once converted to UTC" in problem["errors"][0]["message"]


async def test_a_time_at_the_end_of_the_calendar_on_cop_inbound_is_rejected(
    infra: Infrastructure, events: EventsApp
) -> None:
    await register(infra, events, "calendar", [SCHEDULED])
    sent = event("calendar", SCHEDULED, starts_at=EDGES[1])
    sent["time"] = EDGES[0]

    await events.send_inbound(sent)

    (rejected,) = await rejections(infra, events)
    assert body(rejected)["reason"] == "invalid CloudEvents envelope"
    assert fields(body(rejected)) == {"time", "data.starts_at"}


async def test_a_session_in_the_calendars_first_year_on_cop_inbound_is_rejected_naming_it(
    infra: Infrastructure, events: EventsApp
) -> None:
    await register(infra, events, "calendar", [SCHEDULED])
    sent = event("calendar", SCHEDULED, starts_at="0001-01-01T00:00:00Z")

    await events.send_inbound(sent)

    (rejected,) = await rejections(infra, events)
    assert body(rejected)["reason"] == f"invalid data for {SCHEDULED}"
    assert fields(body(rejected)) == {"data.starts_at"}
    assert headers(rejected)["cop_reason"] == f"invalid data for {SCHEDULED}"
    assert "0002-01-01T00:00:00Z" in body(rejected)["errors"][0]["message"]


# --- events larger than the broker accepts ---


async def test_an_event_larger_than_the_broker_accepts_gets_413_and_is_recorded_without_payload(
    infra: Infrastructure, small_broker: EventsApp
) -> None:
    big, response = await ingest_artifact(infra, small_broker, 150_000)

    problem = problem_of(response, 413)
    assert problem["detail"] == "event too large"
    assert fields(problem) == {"event"}
    (rejected,) = await rejections(infra, small_broker)
    assert len(rejected.value) < 5_000  # the payload is not kept
    record = body(rejected)
    assert record["reason"] == "event too large"
    assert record["source"] == "wiki"
    assert {k: record["event"][k] for k in ("id", "type", "source", "partitionkey")} == {
        "id": big["id"], "type": PUBLISHED, "source": "wiki", "partitionkey": "c1",
    }  # fmt: skip
    assert record["event"]["payload"] == "omitted"
    assert record["event"]["size"] > BROKER_LIMIT
    await assert_nothing_on(infra.kafka_bootstrap_servers, topic(small_broker, Topic.KNOWLEDGE))


async def test_an_event_just_under_the_broker_limit_is_accepted_and_routed(
    infra: Infrastructure, small_broker: EventsApp
) -> None:
    sent, response = await ingest_artifact(infra, small_broker, 95_000)

    assert response.status_code == 202, response.text
    (routed,) = await read_all(
        infra.kafka_bootstrap_servers, topic(small_broker, Topic.KNOWLEDGE), expect=1
    )
    assert len(routed.value) > 94_000
    assert body(routed)["originalid"] == sent["id"]


async def test_an_oversized_event_in_a_batch_is_rejected_alone(
    infra: Infrastructure, small_broker: EventsApp
) -> None:
    key = await register(infra, small_broker, "wiki", [PUBLISHED])
    small, big = artifact("wiki", 1_000), artifact("wiki", 150_000)

    response = await small_broker.client.post("/ingest", json=[big, small], headers=auth(key))

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["status"], r.get("reason")) for r in results] == [
        ("rejected", "event too large"), ("accepted", None),
    ]  # fmt: skip
    (rejected,) = await rejections(infra, small_broker)
    assert body(rejected)["event"]["id"] == big["id"]
    assert len(rejected.value) < 5_000


async def test_a_body_over_the_request_limit_gets_413_and_is_recorded(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "wiki", [PUBLISHED])
    too_much = b" " * (10 * 1_048_576 + 1)

    response = await events.client.post(
        "/ingest",
        content=too_much,
        headers={"content-type": "application/json", "ce-id": "huge-1", **auth(key)},
    )

    assert response.status_code == 413, response.text
    assert response.json()["detail"] == "body too large"
    (rejected,) = await rejections(infra, events)
    assert body(rejected)["event"] == {"id": "huge-1", "size": len(too_much), "payload": "omitted"}


# --- every wrong field at once ---


async def test_an_invalid_event_names_every_wrong_field_across_all_checks(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    sent = {
        **feedback_event("someone-else", rating=9),
        "id": "f-1",
        "time": "2026-11-21T10:00:00",
        "partitionkey": "c2",
    }

    response = await events.client.post("/ingest", json=sent, headers=auth(key))

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["detail"] == "invalid CloudEvents envelope"  # the first check that failed
    assert fields(problem) == {"time", "source", "type", "data.rating", "partitionkey"}


async def test_data_errors_and_a_wrong_partitionkey_are_named_together(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    sent = profile_event("directory", email="nope")
    sent["partitionkey"] = "someone-else"

    response = await events.client.post("/ingest", json=sent, headers=auth(key))

    assert response.status_code == 422
    assert response.json()["detail"] == f"invalid data for {PROFILE}"
    assert fields(response.json()) == {"data.email", "partitionkey"}


async def test_refused_bodies_count_against_the_rate_limit_so_they_cannot_flood_the_record(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "flooder", [PROFILE], limit=2)
    # At once, so that the three fall in one window of the per-minute limit.
    answers = await asyncio.gather(
        *(
            events.client.post(
                "/ingest",
                content=b"{not json",
                headers={**auth(key), "content-type": "application/json"},
            )
            for _ in range(3)
        )
    )
    assert sorted(a.status_code for a in answers) == [400, 400, 429]
    assert all("retry-after" in a.headers for a in answers if a.status_code == 429)
    recorded = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.INBOUND_REJECTED), expect=3, timeout_s=3
    )
    assert len(recorded) == 2
