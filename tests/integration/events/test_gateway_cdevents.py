"""CDEvents at the inbound gateway: from a CI/CD system registered for their families, in any
content mode and any 0.x version, routed to `cop.cicd` keyed by their subject; refused naming
the field when malformed, over HTTP (422, or 400 for a body that cannot be read) and on
`cop.inbound` (a record on `cop.inbound.rejected`)."""

import copy
import json
from typing import Any

import pytest

from bench.cicd_facts import Fact, at, cdevent
from services.events.commands.ingest import platform_id
from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.events.conftest import EventsApp
from tests.integration.events.inbound import auth, register, topic
from tests.integration.kafka_io import body, headers, produce_raw, read_all
from tests.problems import fields, problem_of

pytestmark = pytest.mark.integration

DEPLOYED = "dev.cdevents.service.deployed"
INCIDENT = "dev.cdevents.incident.detected"


def deployment(event_id: str = "dep-1", **changes: Any) -> dict[str, Any]:
    fact = Fact("deployed", at("2026-03-02 10:00"), "service/pay", "production", "pkg:oci/pay@1")
    return {**cdevent(fact, event_id), **changes}


async def ci_key(infra: Infrastructure, events: EventsApp, *types: str) -> str:
    return await register(infra, events, "ci", list(types or (DEPLOYED,)))


async def test_a_cdevent_is_routed_to_the_cicd_topic_keyed_by_its_subject(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await ci_key(infra, events)
    event = deployment()
    response = await events.client.post("/ingest", json=event, headers=auth(key))
    assert response.status_code == 202, response.text
    assert response.json() == {
        "status": "accepted", "id": "dep-1", "event_id": platform_id("ci/github", "dep-1"),
        "type": f"{DEPLOYED}.0.2.0", "topic": "cop.cicd",
    }  # fmt: skip
    (record,) = await read_all(infra.kafka_bootstrap_servers, topic(events, Topic.CICD), expect=1)
    assert record.key == b"service/pay"
    assert headers(record)["ce_type"] == f"{DEPLOYED}.0.2.0"
    routed = body(record)
    assert routed["partitionkey"] == "service/pay"
    assert routed["originalid"] == "dep-1"
    assert routed["data"] == event["data"]  # the whole CDEvent, customData included

    again = await events.client.post("/ingest", json=event, headers=auth(key))
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"


async def test_in_binary_mode_without_time_the_cdevent_is_timed_by_its_context(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await ci_key(infra, events)
    event = deployment("dep-bin", type=f"{DEPLOYED}.0.1.0")  # another 0.x version
    ce_headers = {f"ce-{n}": event[n] for n in ("specversion", "id", "source", "type")}
    response = await events.client.post(
        "/ingest",
        content=json.dumps(event["data"]).encode(),
        headers={**auth(key), **ce_headers, "content-type": "application/json"},
    )
    assert response.status_code == 202, response.text
    (record,) = await read_all(infra.kafka_bootstrap_servers, topic(events, Topic.CICD), expect=1)
    assert record.key == b"service/pay"
    assert body(record)["time"] == "2026-03-02T10:00:00Z"


async def test_a_partitionkey_the_sender_gives_is_kept(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await ci_key(infra, events)
    response = await events.client.post(
        "/ingest", json=deployment(partitionkey="payments"), headers=auth(key)
    )
    assert response.status_code == 202, response.text
    (record,) = await read_all(infra.kafka_bootstrap_servers, topic(events, Topic.CICD), expect=1)
    assert record.key == b"payments"


async def test_a_key_is_scoped_to_the_families_it_was_registered_for(
    infra: Infrastructure, events: EventsApp
) -> None:
    registered = await events.client.post(
        "/sources", json={"name": "ci", "types": [f"{DEPLOYED}.0.2.0"]}
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["types"] == [DEPLOYED]  # a version stands for its family
    key = registered.json()["api_key"]
    incident = cdevent(Fact("detected", at("2026-03-02 11:00"), "INC-1", "production"), "i-1")
    refused = await events.client.post("/ingest", json=incident, headers=auth(key))
    problem = problem_of(refused, 422)
    assert problem["detail"] == "event type not allowed for this source"
    assert fields(problem) == {"type"}
    unknown = await events.client.post(
        "/sources", json={"name": "cd", "types": ["dev.cdevents.service.deployed.1.0.0"]}
    )
    assert fields(problem_of(unknown, 422)) == {"types.0"}


def without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    parent = changed
    for name in path[:-1]:
        parent = parent[name]
    del parent[path[-1]]
    return changed


def replaced(event: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    parent = changed
    for name in path[:-1]:
        parent = parent[name]
    parent[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("malformed", "reason", "named"),
    [
        (
            without(deployment(), "data", "subject"),
            f"invalid data for {DEPLOYED}",
            {"data.subject"},
        ),
        (
            replaced(deployment(), "production", "data", "subject", "content", "environment"),
            f"invalid data for {DEPLOYED}",
            {"data.subject.content.environment"},
        ),
        (
            replaced(deployment(), {"name": "prod"}, "data", "subject", "content", "environment"),
            f"invalid data for {DEPLOYED}",
            {"data.subject.content.environment.id"},
        ),
        (
            replaced(
                replaced(deployment(), "2999-01-01T00:00:00Z", "time"),
                "2999-01-01T00:00:00Z",
                "data",
                "context",
                "timestamp",
            ),
            "time in the future",
            {"time", "data.context.timestamp"},
        ),
    ],
    ids=["no subject", "environment not an object", "environment without id", "in the future"],
)
async def test_a_malformed_cdevent_gets_422_naming_the_field_and_a_rejected_record(
    infra: Infrastructure,
    events: EventsApp,
    malformed: dict[str, Any],
    reason: str,
    named: set[str],
) -> None:
    key = await ci_key(infra, events)
    problem = problem_of(
        await events.client.post("/ingest", json=malformed, headers=auth(key)), 422
    )
    assert problem["detail"] == reason
    assert fields(problem) == named
    (rejected,) = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.INBOUND_REJECTED), expect=1
    )
    assert body(rejected)["reason"] == reason
    assert fields(body(rejected)) == named
    assert body(rejected)["event"]["id"] == malformed["id"]


async def test_a_cdevent_nested_5000_deep_is_refused_naming_the_body_or_its_data(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await ci_key(infra, events)
    deep = json.dumps(deployment()).replace(
        '"customData": {', '"customData": {"x": ' + "[" * 5000 + "]" * 5000 + ", ", 1
    )
    structured = await events.client.post(
        "/ingest",
        content=deep.encode(),
        headers={**auth(key), "content-type": "application/cloudevents+json"},
    )
    assert fields(problem_of(structured, 400)) == {"body"}
    event = deployment("dep-deep")
    data = json.dumps(event["data"]).replace(
        '"customData": {', '"customData": {"x": ' + "[" * 5000 + "]" * 5000 + ", ", 1
    )
    ce_headers = {f"ce-{n}": event[n] for n in ("specversion", "id", "source", "type")}
    binary = await events.client.post(
        "/ingest",
        content=data.encode(),
        headers={**auth(key), **ce_headers, "content-type": "application/json"},
    )
    assert fields(problem_of(binary, 400)) == {"data"}
    records = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.INBOUND_REJECTED), expect=2
    )
    assert sorted(body(r)["reason"] for r in records) == [
        "body nested too deeply", "data nested too deeply"
    ]  # fmt: skip


async def test_on_cop_inbound_a_cdevent_is_routed_and_a_malformed_one_rejected_naming_the_field(
    infra: Infrastructure, events: EventsApp
) -> None:
    await ci_key(infra, events, DEPLOYED)
    inbound = topic(events, Topic.INBOUND)
    good = deployment("k-1")
    bad = replaced(deployment("k-2"), "production", "data", "subject", "content", "environment")
    deep = b'{"specversion": "1.0", "id": "k-3", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    for value in (json.dumps(good).encode(), json.dumps(bad).encode(), deep):
        await produce_raw(infra.kafka_bootstrap_servers, inbound, value, key=None, headers={})
    (routed,) = await read_all(infra.kafka_bootstrap_servers, topic(events, Topic.CICD), expect=1)
    assert routed.key == b"service/pay"
    assert body(routed)["originalid"] == "k-1"
    rejected = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.INBOUND_REJECTED), expect=2
    )
    by_reason = {body(r)["reason"]: body(r) for r in rejected}
    assert fields(by_reason[f"invalid data for {DEPLOYED}"]) == {"data.subject.content.environment"}
    assert fields(by_reason["body nested too deeply"]) == {"body"}
    assert all(headers(r)["cop_via"] == "kafka" for r in rejected)
