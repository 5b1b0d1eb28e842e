"""What the inbound gateway and its admin API refuse rather than guess: a binary-mode event
without `ce-specversion`, a `source` that climbs out of its system's path, an attribute header
sent twice, an admin body whose number is a boolean or a string. On the real broker, MongoDB
protocol and Redis."""

import json
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.events.conftest import EventsApp
from tests.integration.events.inbound import PROFILE, auth, profile_event, register, topic
from tests.integration.kafka_io import assert_nothing_on, body, read_all
from tests.problems import fields, problem_of

pytestmark = pytest.mark.integration


def binary(event: dict[str, Any], *, without: str = "") -> tuple[list[tuple[str, str]], bytes]:
    """The event in HTTP binary mode: its attributes as `ce-*` headers, its data as the body."""
    headers = [
        (f"ce-{name}", str(value)) for name, value in event.items() if name not in ("data", without)
    ]
    return [*headers, ("content-type", "application/json")], json.dumps(event["data"]).encode()


async def post_binary(
    events: EventsApp, key: str, headers: list[tuple[str, str]], content: bytes
) -> httpx.Response:
    """`POST /ingest` in binary mode, with the source's key."""
    return await events.client.post(
        "/ingest", content=content, headers=[*headers, *auth(key).items()]
    )


async def test_a_binary_event_without_specversion_is_refused_even_with_a_known_id(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    event = profile_event("directory")
    headers, content = binary(event)
    first = await post_binary(events, key, headers, content)
    assert first.status_code == 202, first.text

    for sent in (event, {**event, "id": str(uuid.uuid4())}):  # the id seen before, and a new one
        headers, content = binary(sent, without="specversion")
        response = await post_binary(events, key, headers, content)
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == "invalid CloudEvents envelope"
        assert fields(response.json()) == {"specversion"}
    structured = {k: v for k, v in profile_event("directory").items() if k != "specversion"}
    response = await events.client.post("/ingest", json=structured, headers=auth(key))
    assert response.status_code == 422, response.text
    assert fields(response.json()) == {"specversion"}
    routed = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=2, timeout_s=3
    )
    assert [body(r)["originalid"] for r in routed] == [event["id"]]


@pytest.mark.parametrize(
    "source",
    [
        "directory/../billing",
        "directory/..",
        "directory/./x",
        "directory//x",
        "directory/",
        "directory/%2e%2e/x",
        "directory/a%2Fb",
        "directory/..\\x",
        "directory/a\tb",
    ],
)
async def test_a_source_that_is_no_plain_path_under_the_system_gets_422_naming_source(
    infra: Infrastructure, events: EventsApp, source: str
) -> None:
    key = await register(infra, events, "directory", [PROFILE])

    response = await events.client.post("/ingest", json=profile_event(source), headers=auth(key))

    assert response.status_code == 422, response.text
    assert fields(response.json()) == {"source"}


async def test_a_dot_segment_in_binary_mode_and_on_cop_inbound_is_rejected(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    headers, content = binary(profile_event("directory"))
    headers = [(k, "directory/%2E%2E/billing" if k == "ce-source" else v) for k, v in headers]
    response = await post_binary(events, key, headers, content)
    assert response.status_code == 422, response.text
    assert fields(response.json()) == {"source"}

    produced = profile_event("directory/../billing")
    await events.send_inbound(produced)
    rejected = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.INBOUND_REJECTED), expect=2
    )
    assert [body(r)["reason"] for r in rejected] == ["invalid source", "invalid source"]
    assert {e["field"] for r in rejected for e in body(r)["errors"]} == {"source"}


async def test_an_attribute_header_sent_twice_gets_400_naming_it(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    event = profile_event("directory")
    headers, content = binary(event)

    response = await post_binary(events, key, [*headers, ("ce-id", "another-id")], content)

    problem = problem_of(response, 400)
    assert problem["title"] == "Attribute header sent twice"
    assert fields(problem) == {"ce-id"}
    (rejected,) = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.INBOUND_REJECTED), expect=1
    )
    assert body(rejected)["reason"] == "repeated attribute header"
    assert body(rejected)["event"]["source"] == "directory"
    assert "id" not in body(rejected)["event"]
    await assert_nothing_on(infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES))


async def test_an_attribute_header_twice_on_a_binary_record_on_cop_inbound_is_rejected(
    infra: Infrastructure, events: EventsApp
) -> None:
    await register(infra, events, "directory", [PROFILE])
    event = profile_event("directory")
    record_headers = [
        (f"ce_{name}", str(value).encode()) for name, value in event.items() if name != "data"
    ]
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic(events, Topic.INBOUND),
            json.dumps(event["data"]).encode(),
            headers=[
                *record_headers,
                ("ce_id", b"another-id"),
                ("content-type", b"application/json"),
            ],
        )
    finally:
        await producer.stop()

    (rejected,) = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.INBOUND_REJECTED), expect=1
    )
    assert body(rejected)["reason"] == "repeated attribute header"
    assert [e["field"] for e in body(rejected)["errors"]] == ["ce_id"]


@pytest.mark.parametrize("limit", [True, "1", 1.0, "abc"])
async def test_a_rate_limit_that_is_no_json_integer_gets_422_naming_it(
    events: EventsApp, limit: Any
) -> None:
    response = await events.client.post(
        "/sources", json={"name": "wiki", "types": [PROFILE], "rate_limit_per_minute": limit}
    )

    assert "rate_limit_per_minute" in fields(problem_of(response, 422))
    assert (await events.client.get("/sources")).json() == []


@pytest.mark.parametrize("overlap", [True, "60"])
async def test_a_rotation_overlap_that_is_no_json_integer_gets_422_naming_it(
    events: EventsApp, overlap: Any
) -> None:
    registered = await events.client.post("/sources", json={"name": "wiki", "types": [PROFILE]})
    assert registered.status_code == 201, registered.text

    response = await events.client.post("/sources/wiki/rotate", json={"overlap_s": overlap})

    assert response.status_code == 422, response.text
    assert "overlap_s" in fields(response.json())
