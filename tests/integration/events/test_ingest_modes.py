"""Every CloudEvents content mode, sent with the official SDK, over HTTP and over `cop.inbound`.

Structured, binary and batched mode over HTTP; structured and binary mode over Kafka. The SDK's
current API (`cloudevents.core.bindings`) and its v1 API (what 1.x releases shipped as
`cloudevents.http` / `cloudevents.kafka`) are both used: they differ in binary mode (the v1
Kafka binding carries `partitionkey` only as the record key, the v1 HTTP binding does not
percent-encode headers). The SDK has no batch helper: a batch is the structured events joined
into a JSON array.
"""

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkEvent
from cloudevents.v1 import conversion as v1_conversion
from cloudevents.v1 import kafka as v1_kafka
from cloudevents.v1.http import CloudEvent as V1Event

from services.events.commands.ingest import platform_id
from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.events.conftest import EventsApp
from tests.integration.events.inbound import PROFILE, auth, register, topic
from tests.integration.kafka_io import body, headers, read_all
from tests.problems import fields, problem_of

pytestmark = pytest.mark.integration

BATCH_JSON = "application/cloudevents-batch+json"


def attributes(source: str, member: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": f"dir-{uuid.uuid4().hex[:12]}",
        "source": source,
        "type": PROFILE,
        "time": datetime.now(UTC).replace(microsecond=0),
        "datacontenttype": "application/json",
        "partitionkey": member,
        **changes,
    }


def profile(member: str, **changes: Any) -> dict[str, Any]:
    return {"member_id": member, "name": "Dir Ectory", "email": f"{member}@example.com", **changes}


def sdk_event(source: str, member: str | None = None, data: Any = None, **changes: Any) -> SdkEvent:
    member = member or f"m-{uuid.uuid4().hex[:8]}"
    return SdkEvent(attributes(source, member, **changes), data or profile(member))


def v1_event(source: str, member: str | None = None, **changes: Any) -> V1Event:
    member = member or f"m-{uuid.uuid4().hex[:8]}"
    attrs = attributes(source, member, **changes)
    attrs["time"] = attrs["time"].isoformat()
    return V1Event(attrs, profile(member))


def http_structured(event: SdkEvent) -> tuple[dict[str, str], bytes]:
    message = ce_http.to_structured(event, JSONFormat())
    return message.headers, message.body


def http_binary(event: SdkEvent) -> tuple[dict[str, str], bytes]:
    message = ce_http.to_binary(event, JSONFormat())
    return message.headers, message.body


HttpMode = Callable[[SdkEvent], tuple[dict[str, str], bytes]]


async def post(events: EventsApp, key: str, headers: dict[str, str], content: bytes) -> Any:
    return await events.client.post("/ingest", content=content, headers={**headers, **auth(key)})


async def produce_inbound(infra: Infrastructure, events: EventsApp, message: Any) -> None:
    """Send an SDK KafkaMessage (either API's) to `cop.inbound` as it is: key, headers, value."""
    key = message.key.encode() if isinstance(message.key, str) else message.key
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic(events, Topic.INBOUND),
            message.value,
            key=key,
            headers=list(message.headers.items()),
        )
    finally:
        await producer.stop()


def id_of(event: SdkEvent | V1Event) -> str:
    return str(event.get_attributes()["id"])


def member_of(event: SdkEvent | V1Event) -> str:
    return str(event.get_attributes()["partitionkey"])


async def routed_profiles(infra: Infrastructure, events: EventsApp, expect: int) -> list[Any]:
    return await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.COMMUNITIES), expect=expect
    )


async def routed_once(
    infra: Infrastructure, events: EventsApp, event: SdkEvent | V1Event, source: str
) -> Any:
    """The one record on the domain topic: `event` from `source`, keyed by its member."""
    (record,) = await routed_profiles(infra, events, expect=1)
    assert record.key == member_of(event).encode()
    assert headers(record)["ce_type"] == PROFILE
    routed = body(record)
    assert routed["originalid"] == id_of(event)
    assert routed["id"] == platform_id(source, id_of(event))
    assert routed["source"] == source
    assert routed["data"]["member_id"] == member_of(event)
    return record


async def rejected_once(infra: Infrastructure, events: EventsApp) -> Any:
    """The one record on `cop.inbound.rejected`."""
    (rejected,) = await read_all(
        infra.kafka_bootstrap_servers, topic(events, Topic.INBOUND_REJECTED), expect=1
    )
    return rejected


# --- HTTP ---


@pytest.mark.parametrize("mode", [http_structured, http_binary], ids=["structured", "binary"])
async def test_an_event_in_either_http_mode_made_by_the_sdk_is_accepted_and_routed(
    infra: Infrastructure, events: EventsApp, mode: HttpMode
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    source = "directory/team a"  # a space: percent-encoded in a binary-mode header
    event = sdk_event(source)
    request_headers, content = mode(event)

    response = await post(events, key, request_headers, content)

    assert response.status_code == 202, response.text
    assert response.json()["id"] == id_of(event)
    assert response.json()["event_id"] == platform_id(source, id_of(event))
    record = await routed_once(infra, events, event, source)
    assert body(record)["time"] == event.get_attributes()["time"].isoformat().replace("+00:00", "Z")


async def test_a_binary_mode_event_from_the_v1_sdk_is_accepted(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    event = v1_event("directory")
    request_headers, content = v1_conversion.to_binary(event)

    response = await post(events, key, request_headers, content)

    assert response.status_code == 202, response.text
    await routed_once(infra, events, event, "directory")


async def test_a_binary_mode_resend_is_a_duplicate_of_the_structured_original(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    event = sdk_event("directory")

    first = await post(events, key, *http_structured(event))
    again = await post(events, key, *http_binary(event))

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["status"] == "duplicate"


async def test_a_binary_mode_event_with_wrong_fields_gets_422_naming_every_one(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    member = f"m-{uuid.uuid4().hex[:8]}"
    event = sdk_event("directory", member, data=profile(member, email="not-an-email"))
    request_headers, content = http_binary(event)
    request_headers["ce-partitionkey"] = "someone-else"

    response = await post(events, key, request_headers, content)

    problem = problem_of(response, 422)
    assert fields(problem) == {"data.email", "partitionkey"}
    rejected = await rejected_once(infra, events)
    assert body(rejected)["event"]["id"] == id_of(event)  # rebuilt from the ce- headers
    assert body(rejected)["event"]["data"]["email"] == "not-an-email"


async def test_a_batched_mode_request_gets_a_result_per_event(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])
    good = [sdk_event("directory") for _ in range(2)]
    bad = sdk_event("directory", data={"member_id": "x"})
    batch = b"[" + b",".join(JSONFormat().write(e) for e in (good[0], bad, good[1])) + b"]"

    response = await post(events, key, {"content-type": BATCH_JSON}, batch)

    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["accepted"], result["duplicate"], result["rejected"]) == (2, 0, 1)
    assert [r["status"] for r in result["results"]] == ["accepted", "rejected", "accepted"]
    records = await routed_profiles(infra, events, expect=2)
    assert sorted(body(r)["originalid"] for r in records) == sorted(id_of(e) for e in good)


async def test_a_batched_mode_body_that_is_not_an_array_gets_400(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])

    response = await post(
        events, key, {"content-type": BATCH_JSON}, JSONFormat().write(sdk_event("directory"))
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "a batch must be a JSON array"


async def test_an_event_format_other_than_json_gets_415(
    infra: Infrastructure, events: EventsApp
) -> None:
    key = await register(infra, events, "directory", [PROFILE])

    response = await post(
        events, key, {"content-type": "application/cloudevents+avro"}, b"\x00\x01"
    )

    assert problem_of(response, 415)["errors"][0]["field"] == "content-type"


# --- Kafka: cop.inbound ---


async def test_a_structured_mode_record_made_by_the_sdk_on_cop_inbound_is_routed(
    infra: Infrastructure, events: EventsApp
) -> None:
    await register(infra, events, "calendar", [PROFILE])
    event = sdk_event("calendar")

    await produce_inbound(infra, events, ce_kafka.to_structured(event, JSONFormat()))

    await routed_once(infra, events, event, "calendar")


async def test_a_binary_mode_record_on_cop_inbound_is_routed(
    infra: Infrastructure, events: EventsApp
) -> None:
    """Needs the inbound consumer to hand the record's headers and key to the gateway."""
    await register(infra, events, "calendar", [PROFILE])
    event = sdk_event("calendar")
    message = ce_kafka.to_binary(event, JSONFormat())
    assert "ce_id" in message.headers

    await produce_inbound(infra, events, message)

    await routed_once(infra, events, event, "calendar")

    await events.wait_member(
        member_of(event), what="the binary-mode profile in the events projection"
    )


async def test_a_v1_sdk_binary_record_keyed_by_its_partitionkey_on_cop_inbound_is_routed(
    infra: Infrastructure, events: EventsApp
) -> None:
    """The v1 binding sends `partitionkey` as the record key only (no ce_partitionkey)."""
    await register(infra, events, "calendar", [PROFILE])
    event = v1_event("calendar")
    message = v1_kafka.to_binary(event)
    assert "ce_partitionkey" not in message.headers

    await produce_inbound(infra, events, message)

    await routed_once(infra, events, event, "calendar")


async def test_an_invalid_binary_mode_record_on_cop_inbound_is_rejected_naming_every_field(
    infra: Infrastructure, events: EventsApp
) -> None:
    await register(infra, events, "calendar", [PROFILE])
    member = f"m-{uuid.uuid4().hex[:8]}"
    event = sdk_event("calendar", member, data=profile(member, name=""))
    message = ce_kafka.to_binary(event, JSONFormat())
    message_headers = {**message.headers, "ce_partitionkey": b"wrong"}

    await produce_inbound(
        infra, events, ce_kafka.KafkaMessage(headers=message_headers, key=None, value=message.value)
    )

    rejected = await rejected_once(infra, events)
    record = body(rejected)
    assert record["reason"] == f"invalid data for {PROFILE}"
    assert fields(record) == {"data.name", "partitionkey"}
    assert record["source"] == "calendar"
    assert record["event"]["id"] == id_of(event)
    assert headers(rejected)["cop_via"] == "kafka"


async def test_a_record_from_an_unregistered_source_names_its_other_wrong_fields_too(
    infra: Infrastructure, events: EventsApp
) -> None:
    member = f"m-{uuid.uuid4().hex[:8]}"
    event = sdk_event("stranger", member, data=profile(member, email="nope"))

    await produce_inbound(infra, events, ce_kafka.to_structured(event, JSONFormat()))

    rejected = await rejected_once(infra, events)
    assert body(rejected)["reason"] == "unregistered source"
    assert fields(body(rejected)) == {"source", "data.email"}
    assert json.loads(rejected.value)["event"]["source"] == "stranger"
