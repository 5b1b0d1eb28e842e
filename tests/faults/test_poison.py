"""Poison on every topic a service consumes, ahead of a stream of valid events.

On each domain topic (`cop.communities`, `cop.sessions`, `cop.knowledge`, `cop.recognition`)
and on `cop.inbound`, on every partition: a record that is not JSON, a valid event of a type no
catalog knows, and valid JSON that fails the schema (a known type with empty data).

- A domain topic's undecodable records (not JSON, not the schema) are parked at once on
  `cop.dlq.<service>` by every consumer group that reads the topic, each exactly once, as they
  came, with the reason (`cop_error`) and where they came from; an unknown type is skipped, not
  parked (consumers ignore types they do not know: a newer producer's type is no poison; see
  docs/architecture.md#delivery-semantics).
- The inbound gateway parks nothing: every bad record (the unknown type too: other systems may
  only send catalog types) goes to `cop.inbound.rejected` with its reason (`cop_reason`).
- Every consumer goes on: the stream behind the poison is applied whole and every group
  catches up to the end of every partition.

And a handler that raises. No valid event makes a handler fail by itself (the handlers are
total over what the catalog accepts), so the failure comes from a dependency's state, as after
an operator's slip: recognition's leaderboard key of one community holds a string, so Redis
answers WRONGTYPE (an error, not an outage) when recognition raises a score there. The
artifact published in that community is retried, then parked with that error, and the
consumer moves on. Once the key is deleted (the fix), `copctl dlq redrive --offset` brings the
letter back and it is applied exactly once.
"""

import asyncio
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from services.events.commands.ingest import platform_id
from shared.events.topics import Topic
from tests.faults.conftest import PlatformFactory
from tests.faults.harness import (
    DOMAIN_TOPICS,
    PARTITIONS,
    SERVICE_NAMES,
    SOURCE,
    Ledger,
    Platform,
    Sender,
    account,
    committed_offsets,
    copctl,
    dead_letters,
    eventually,
    headers_of,
    projections,
    read_topic,
    settled,
    snapshot,
    workload,
)

pytestmark = pytest.mark.faults

EVENTS = 800
NOT_JSON = b'{"specversion": "1.0", "id": "cut-short'
UNKNOWN_TYPE = "cop.telepathy.sensed.v1"
INVALID_TYPE = {  # a catalog type of each topic, sent with empty data
    Topic.COMMUNITIES: "cop.member.profile_updated.v1",
    Topic.SESSIONS: "cop.feedback.submitted.v1",
    Topic.KNOWLEDGE: "cop.artifact.published.v1",
    Topic.RECOGNITION: "cop.kudos.given.v1",
    Topic.INBOUND: "cop.member.profile_updated.v1",
}
CONSUMED = (*DOMAIN_TOPICS, Topic.INBOUND)
AUTHORED = 3  # what publishing an artifact gives its author (services/recognition/domain/ledger)


@dataclass(frozen=True)
class Poison:
    kind: str  # not-json | unknown-type | invalid
    topic: str
    partition: int
    offset: int
    value: bytes

    @property
    def undecodable(self) -> bool:
        return self.kind != "unknown-type"


def envelope(platform: Platform, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"{platform.namespace}-poison-{uuid.uuid4().hex[:12]}",
        "source": SOURCE,
        "type": event_type,
        "time": datetime.now(UTC).isoformat(),
        "partitionkey": "poison",
        "data": data,
    }


def poison_values(platform: Platform, topic: Topic) -> dict[str, bytes]:
    return {
        "not-json": NOT_JSON,
        "unknown-type": json.dumps(envelope(platform, UNKNOWN_TYPE, {"x": 1})).encode(),
        "invalid": json.dumps(envelope(platform, INVALID_TYPE[topic], {})).encode(),
    }


async def produce_poison(platform: Platform) -> list[Poison]:
    """Each kind of poison on each partition of each consumed topic."""
    producer = AIOKafkaProducer(
        bootstrap_servers=platform.infra.kafka_bootstrap_servers, acks="all"
    )
    await producer.start()
    poisons = []
    try:
        for topic in CONSUMED:
            for kind, value in poison_values(platform, topic).items():
                for partition in range(PARTITIONS):
                    sent = await producer.send_and_wait(
                        platform.topic(topic),
                        value,
                        key=b"poison",
                        partition=partition,
                        headers=[("content-type", b"application/cloudevents+json")],
                    )
                    poisons.append(Poison(kind, sent.topic, sent.partition, sent.offset, value))
    finally:
        await producer.stop()
    return poisons


async def readers(platform: Platform) -> dict[str, Counter[str]]:
    """Per service: how many of its consumer groups read each topic."""
    found: dict[str, Counter[str]] = {s: Counter() for s in SERVICE_NAMES}
    for group, offsets in (await committed_offsets(platform)).items():
        service = group.removeprefix(f"{platform.namespace}-").split("-")[0]
        found[service].update({tp.topic for tp in offsets})
    return found


def origin(record: Any) -> tuple[str, int, int]:
    h = headers_of(record)
    return h["cop_original_topic"], int(h["cop_original_partition"]), int(h["cop_original_offset"])


# --- the handler that raises -----------------------------------------------------------------


@dataclass(frozen=True)
class Stuck:
    """The artifact that recognition cannot apply while its community's leaderboard is broken."""

    community: str
    author: str
    artifact: str
    event_id: str  # the platform id the gateway routed it under

    def leaderboard(self, platform: Platform) -> str:
        """As `services/recognition/adapters/leaderboard.py` names the community's all-time
        leaderboard."""
        return f"{platform.database('recognition')}:leaderboard:{self.community}:all"


async def publish_stuck(platform: Platform, redis: Redis) -> Stuck:
    tag = uuid.uuid4().hex[:8]
    community, author, artifact = f"poisoned-{tag}", f"author-{tag}", f"artifact-{tag}"
    event = envelope(
        platform,
        "cop.artifact.published.v1",
        {
            "artifact_id": artifact,
            "community_id": community,
            "kind": "pattern",
            "title": "Written where the leaderboard is broken",
            "body_markdown": "# A pattern",
            "author_ids": [author],
        },
    )
    event["partitionkey"] = community
    stuck = Stuck(community, author, artifact, platform_id(SOURCE, event["id"]))
    await redis.set(stuck.leaderboard(platform), "not a sorted set")
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{platform.urls['events']}/ingest",
            json=event,
            headers={"Authorization": f"Bearer {platform.api_key}"},
        )
    assert response.status_code == 202, response.text
    assert response.json()["event_id"] == stuck.event_id
    return stuck


async def score(platform: Platform, redis: Redis, stuck: Stuck) -> float | None:
    try:
        return await redis.zscore(stuck.leaderboard(platform), stuck.author)
    except ResponseError:  # WRONGTYPE: not fixed yet
        return None


# --- the test --------------------------------------------------------------------------------


async def test_poison_on_every_topic_is_parked_with_its_reason_and_a_fixed_letter_redriven_once(
    platforms: PlatformFactory,
) -> None:
    platform = await platforms("poison")
    redis = Redis.from_url(platform.infra.redis_url, decode_responses=True)
    try:
        await poison_then_redrive(platform, redis)
    finally:
        await redis.aclose()


async def poison_then_redrive(platform: Platform, redis: Redis) -> None:
    poisons = await produce_poison(platform)
    stuck = await publish_stuck(platform, redis)
    ledger = Ledger()
    await Sender(platform, ledger).send(workload(EVENTS, seed=61, namespace=platform.namespace))
    await settled(platform)
    for service, docs in (await projections(platform, SERVICE_NAMES)).items():
        assert sum(len(d) for d in docs.values()) > 0, f"{service} applied nothing"

    letters = {s: await dead_letters(platform, s) for s in SERVICE_NAMES}
    await check_parked(platform, poisons, letters, stuck)
    await check_rejected(platform, poisons)
    await check_listed(platform, letters)

    (letter,) = [r for r in letters["recognition"] if "WRONGTYPE" in headers_of(r)["cop_error"]]
    await redis.delete(stuck.leaderboard(platform))  # the fix
    redriven = await asyncio.to_thread(
        copctl,
        platform,
        "dlq",
        "redrive",
        "recognition",
        "--offset",
        f"{letter.partition}@{letter.offset}",
    )
    assert redriven.returncode == 0, redriven.stderr
    assert "re-drove 1 " in redriven.stdout
    assert (
        await eventually(
            partial(score, platform, redis, stuck), what="the re-driven artifact's score"
        )
        == AUTHORED
    )
    await settled(platform)
    count = await account(
        platform,
        ledger,
        "poison on every topic, one letter re-driven once fixed",
        f"{sum(p.undecodable for p in poisons)} undecodable and "
        f"{sum(not p.undecodable for p in poisons)} unknown-type records ahead of the stream",
    )
    assert count.missing == 0
    assert count.duplicates == 0
    assert {s: len(await dead_letters(platform, s)) for s in SERVICE_NAMES} == {
        s: len(found) for s, found in letters.items()
    }, "the re-driven letter was parked again"
    versions = await snapshot(platform, "knowledge", ("artifact_versions",), frozenset())
    mine = [v for v in versions["artifact_versions"].values() if v["artifact_id"] == stuck.artifact]
    assert len(mine) == 1, mine  # knowledge applied it twice, once in effect


async def check_parked(
    platform: Platform, poisons: list[Poison], letters: dict[str, list[Any]], stuck: Stuck
) -> None:
    """Each undecodable domain record once per group that reads its topic, with its reason; the
    stuck artifact once on recognition's; nothing else."""
    by_origin = {(p.topic, p.partition, p.offset): p for p in poisons}
    reading = await readers(platform)
    for service, found in letters.items():
        expected = Counter(
            {
                (p.topic, p.partition, p.offset): reading[service][p.topic]
                for p in poisons
                if p.undecodable and p.topic != platform.topic(Topic.INBOUND)
            }
        )
        parked = Counter(origin(r) for r in found if origin(r) in by_origin)
        assert +expected == parked, f"{service}: {parked} parked, {expected} expected"
        for record in found:
            h = headers_of(record)
            assert h["cop_service"] == service
            if origin(record) in by_origin:
                assert record.value == by_origin[origin(record)].value
                assert h["cop_error"].startswith("invalid event"), h["cop_error"]
    others = [r for r in letters["recognition"] if origin(r) not in by_origin]
    assert len(others) == 1, [headers_of(r)["cop_error"] for r in others]
    (letter,) = others
    assert json.loads(letter.value)["id"] == stuck.event_id
    assert origin(letter)[0] == platform.topic(Topic.KNOWLEDGE)
    assert "WRONGTYPE" in headers_of(letter)["cop_error"]
    assert all(
        origin(r) in by_origin for s in SERVICE_NAMES if s != "recognition" for r in letters[s]
    )


async def check_rejected(platform: Platform, poisons: list[Poison]) -> None:
    """Every bad record on `cop.inbound` rejected once, with its reason; nothing else."""
    rejected = await read_topic(
        platform.infra.kafka_bootstrap_servers, platform.topic(Topic.INBOUND_REJECTED)
    )
    inbound = [p for p in poisons if p.topic == platform.topic(Topic.INBOUND)]
    assert len(rejected) == len(inbound)
    reasons = Counter(headers_of(r)["cop_reason"] for r in rejected)
    assert all(headers_of(r)["cop_via"] == "kafka" for r in rejected)
    assert reasons["unknown event type"] == PARTITIONS, reasons
    assert reasons[f"invalid data for {INVALID_TYPE[Topic.INBOUND]}"] == PARTITIONS, reasons
    assert sum(reasons.values()) == 3 * PARTITIONS
    assert all(json.loads(r.value)["reason"] == headers_of(r)["cop_reason"] for r in rejected)


async def check_listed(platform: Platform, letters: dict[str, list[Any]]) -> None:
    """`copctl dlq list SERVICE` shows every letter: where it came from and the error."""
    for service, found in letters.items():
        listed = await asyncio.to_thread(copctl, platform, "dlq", "list", service)
        assert listed.returncode == 0, listed.stderr
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert len(rows) == len(found), service
        assert {row["original"] for row in rows} == {
            f"{t}[{p}]@{o}" for t, p, o in map(origin, found)
        }
        assert all(row["error"] for row in rows)
        assert f"{len(found)} dead letter(s)" in listed.stderr
