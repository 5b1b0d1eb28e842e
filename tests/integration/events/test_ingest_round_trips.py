"""`POST /ingest` takes its MongoDB round trips per batch, not per partition key or per event:
a batch of many communities is claimed in the inbound ledger once and marked published once, and
requests in flight together share their ledger round trips. On the real broker, MongoDB protocol
and Redis."""

import asyncio
import uuid

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.events.conftest import EventsApp
from tests.integration.events.inbound import BATCH_JSON, JOINED, auth, joined, register, topic
from tests.integration.kafka_io import body, read_all

pytestmark = pytest.mark.integration


def ledger_round_trips(exporter: InMemorySpanExporter) -> int:
    return sum(
        (s.attributes or {}).get("db.collection.name") == "inbound_ledger"
        for s in exporter.get_finished_spans()
    )


async def test_a_batch_of_a_hundred_communities_takes_two_ledger_round_trips_in_order(
    infra: Infrastructure, events: EventsApp, spans: InMemorySpanExporter
) -> None:
    key = await register(infra, events, "directory", [JOINED])
    run = uuid.uuid4().hex[:8]
    batch = [joined("directory", f"c-{run}-{i % 50}", f"m-{i}") for i in range(100)]
    spans.clear()

    response = await events.client.post("/ingest", json=batch, headers={**auth(key), **BATCH_JSON})

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 100
    assert ledger_round_trips(spans) == 2  # one claim, one mark: not two per community
    records = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=100
    )
    by_key: dict[str, list[str]] = {}
    for record in records:
        by_key.setdefault(body(record)["partitionkey"], []).append(body(record)["originalid"])
    expected: dict[str, list[str]] = {}
    for event in batch:
        expected.setdefault(event["partitionkey"], []).append(event["id"])
    assert by_key == expected  # each community's events in the batch's order


async def test_single_events_sent_at_once_share_ledger_round_trips_and_stay_exactly_once(
    infra: Infrastructure, events: EventsApp, spans: InMemorySpanExporter
) -> None:
    key = await register(infra, events, "directory", [JOINED])
    community = f"c-{uuid.uuid4().hex[:8]}"
    sent = [joined("directory", community, f"m-{i}") for i in range(16)]
    spans.clear()

    answers = await asyncio.gather(
        *(events.client.post("/ingest", json=e, headers=auth(key)) for e in sent)
    )

    assert [a.status_code for a in answers] == [202] * 16, [a.text for a in answers]
    assert ledger_round_trips(spans) < 32
    again = await asyncio.gather(
        *(events.client.post("/ingest", json=e, headers=auth(key)) for e in sent)
    )
    assert [a.json()["status"] for a in again] == ["duplicate"] * 16
    records = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=17, timeout_s=3
    )
    assert sorted(body(r)["originalid"] for r in records) == sorted(e["id"] for e in sent)
