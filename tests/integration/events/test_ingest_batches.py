"""Large `POST /ingest` batches: a partition key's events are checked together, claimed in the
inbound ledger in one round trip, handed to the producer in order and acknowledged together —
and still reach their topic in the batch's order, exactly once. On the real broker, MongoDB
protocol and Redis."""

import uuid
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo import AsyncMongoClient

from services.events.commands.ingest import platform_id
from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.events.conftest import EventsApp
from tests.integration.events.inbound import BATCH_JSON, JOINED, auth, joined, register, topic
from tests.integration.kafka_io import body, read_all

pytestmark = pytest.mark.integration


def in_trace(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]


async def test_a_thousand_events_of_one_key_reach_the_topic_in_order_once_with_one_ledger_write(
    infra: Infrastructure, events: EventsApp, spans: InMemorySpanExporter
) -> None:
    key = await register(infra, events, "directory", [JOINED])
    community = f"c-{uuid.uuid4().hex[:8]}"
    batch = [joined("directory/ldap", community, f"m-{i:04d}") for i in range(1000)]
    trace_id = uuid.uuid4().int & (2**128 - 1)
    traceparent = {"traceparent": f"00-{trace_id:032x}-{uuid.uuid4().hex[:16]}-01"}

    response = await events.client.post(
        "/ingest", json=batch, headers={**auth(key), **BATCH_JSON, **traceparent}
    )

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1000
    records = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=1000
    )
    assert [body(r)["originalid"] for r in records] == [e["id"] for e in batch]
    assert {r.partition for r in records} == {records[0].partition}
    request = in_trace(spans, trace_id)
    ledger = [
        s for s in request if (s.attributes or {}).get("db.collection.name") == "inbound_ledger"
    ]
    # One round trip claims the lane's events, one marks them published (not 2 per event).
    assert len(ledger) == 2, [s.name for s in ledger]
    judged = {s.context.span_id: s for s in request if s.name == f"ingest {JOINED}"}
    sent = [s for s in request if s.kind == trace.SpanKind.PRODUCER]
    assert len(judged) == len(sent) == 1000
    for span in sent:  # each record's send is a child of its own judgement, with its offset
        assert span.parent is not None
        assert span.parent.span_id in judged
        assert isinstance((span.attributes or {}).get("messaging.kafka.offset"), int)

    again = await events.client.post("/ingest", json=batch, headers={**auth(key), **BATCH_JSON})

    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] == 1000
    records = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=1001, timeout_s=3
    )
    assert len(records) == 1000


async def test_one_keys_lane_keeps_its_order_around_a_rejected_event_and_a_repeated_id(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [JOINED])
    community = f"c-{uuid.uuid4().hex[:8]}"
    a, c, d = (joined("directory", community, m) for m in ("ann", "cy", "dee"))
    wrong = {**joined("directory", community, "bob"), "partitionkey": "elsewhere"}
    wrong["data"] = {**wrong["data"], "community_id": "elsewhere", "member_id": ""}
    batch = [a, wrong, c, a, d]

    response = await events.client.post("/ingest", json=batch, headers={**auth(key), **BATCH_JSON})

    assert response.status_code == 200, response.text
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == ["accepted", "rejected", "accepted", "duplicate", "accepted"]
    records = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=4, timeout_s=5
    )
    assert [body(r)["originalid"] for r in records] == [a["id"], c["id"], d["id"]]


async def test_an_event_left_pending_by_an_earlier_failure_is_published_then_a_duplicate(
    infra: Infrastructure, events: EventsApp
) -> None:
    """A publish that never got its acknowledgement leaves the event pending in the ledger: the
    client's retry publishes it; once published, another retry is a duplicate."""
    key = await register(infra, events, "directory", [JOINED])
    event = joined("directory", f"c-{uuid.uuid4().hex[:8]}", "ann")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    try:
        ledger = client[events.settings.mongodb_database]["inbound_ledger"]
        await ledger.insert_one({"_id": f"directory|{event['id']}", "status": "pending"})

        retried = await events.client.post("/ingest", json=event, headers=auth(key))
        assert retried.status_code == 202, retried.text
        again = await events.client.post("/ingest", json=event, headers=auth(key))
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "duplicate"
        stored = await ledger.find_one({"_id": f"directory|{event['id']}"})
        assert stored is not None
        assert stored["status"] == "published"
    finally:
        await client.close()
    records = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=2, timeout_s=3
    )
    assert [body(r)["id"] for r in records] == [platform_id("directory", event["id"])]
