"""A record that cannot be decoded never stalls a partition: it is set aside with its reason at
once, and the valid events behind it are applied."""

import json

import pytest

from shared.events.topics import Topic, dlq_topic
from tests.infra import Infrastructure
from tests.integration.events.conftest import EventsApp
from tests.integration.events.inbound import PROFILE, profile_event, register, topic
from tests.integration.kafka_io import body, headers, produce_raw, read_all

pytestmark = pytest.mark.integration

DEEPLY_NESTED = b"[" * 5000 + b"]" * 5000


async def test_deeply_nested_json_on_cop_inbound_is_rejected_and_the_events_behind_it_flow(
    infra: Infrastructure, events: EventsApp
) -> None:
    await register(infra, events, "calendar", [PROFILE])
    inbound = topic(events, Topic.INBOUND)
    await produce_raw(infra.kafka_bootstrap_servers, inbound, DEEPLY_NESTED, key=b"k", headers={})
    valid = profile_event("calendar")
    await produce_raw(
        infra.kafka_bootstrap_servers, inbound, json.dumps(valid).encode(), key=b"k", headers={}
    )

    (routed,) = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=1
    )
    assert body(routed)["originalid"] == valid["id"]
    (rejected,) = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.INBOUND_REJECTED), expect=1
    )
    assert headers(rejected)["cop_via"] == "kafka"
    assert "nest" in body(rejected)["reason"].lower()

    await events.wait_member(
        valid["data"]["member_id"], what="the valid event behind the poison applied"
    )


async def test_an_undecodable_record_on_a_domain_topic_is_dead_lettered_once_with_its_reason(
    infra: Infrastructure, events: EventsApp
) -> None:
    communities = topic(events, Topic.COMMUNITIES)
    await produce_raw(
        infra.kafka_bootstrap_servers,
        communities,
        DEEPLY_NESTED,
        key=b"member-1",
        headers={"origin": "test"},
    )
    community_id = await events.new_community(leader="lea")  # produced behind the poison

    dead = await read_all(
        infra.kafka_bootstrap_servers,
        events.settings.kafka_topic_prefix + dlq_topic("events"),
        expect=2,
        timeout_s=5,
    )
    assert len(dead) == 1  # once: never retried, never parked twice
    assert dead[0].value == DEEPLY_NESTED
    letter = headers(dead[0])
    assert letter["origin"] == "test"
    assert letter["cop_original_topic"] == communities
    assert letter["cop_error"].startswith(("invalid event", "undecodable record"))
    listed = await events.get("/communities")
    assert community_id in {c["community_id"] for c in listed["items"]}
