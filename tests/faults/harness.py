"""What the fault suite runs on and how it keeps its books.

The suite has a Kafka broker, a MongoDB-protocol server and Redis of its own (`INSTANCE`: other
ports, files under `.local/faults/`, process names starting with `faults-`), so it can kill and
restart them without touching what other tests use. The services run as processes on free ports,
each platform in a namespace of its own (topic prefix, databases, consumer groups).

Every event the suite sends is accounted for, Jepsen-style: what was sent, what the platform
acknowledged (202 or a duplicate's 200 over HTTP, an acknowledged produce to `cop.inbound`),
what was refused (503 while a dependency was down) and, afterwards, what is found on the domain
topics and in the projections, and how many times.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient
from pymongo.errors import ServerSelectionTimeoutError

from bench.mixed_events import mixed_events
from copctl.devstack import stack
from copctl.devstack.paths import REPO_ROOT, local_dir
from copctl.devstack.processes import Instance, kill, running, stop
from copctl.devstack.stack import Infra, ServiceSpec, start_services
from copctl.replay import REBUILDS, ReplayRefused, replay, rewind_group
from copctl.topics import read_from_start
from services.events.adapters.projection import PROJECTION_COLLECTIONS
from services.events.commands.ingest import platform_id
from services.knowledge.adapters.projection import PROJECTION as KNOWLEDGE_PROJECTION
from services.notifier.adapters.directory import PROJECTION as NOTIFIER_PROJECTION
from services.recognition.adapters.projection import PROJECTION as RECOGNITION_PROJECTION
from shared.events.catalog import CATALOG
from shared.events.topics import Topic, dlq_topic
from shared.settings import ServiceSettings
from tests.integration import polling
from tests.integration.apps import bearer
from tests.sinks import Sinks, free_port

INSTANCE = Instance(prefix="faults-", port_offset=10_000, data_dir=local_dir() / "faults")
SOURCE = "faults"
SERVICE_NAMES = ("events", "knowledge", "recognition", "notifier")
PARTITIONS = 3
DOMAIN_TOPICS = (
    Topic.COMMUNITIES,
    Topic.SESSIONS,
    Topic.KNOWLEDGE,
    Topic.RECOGNITION,
)
WEBHOOK_SECRET = "faults-secret"
# Types the platform decides itself (recognition): never sent from outside.
DECISIONS = {"cop.kudos.judged.v1", "cop.badge.awarded.v1", "cop.health.alert_raised.v1"}
MAX_REPLICAS = 3
# Fields written from the clock when an event is applied, not from the event; `dirty` is
# recognition's queue of months to evaluate again, stamped with the clock.
PROCESSING_TIME = frozenset({"updated_at", "applied_at", "dirty"})
# What a replay must reproduce exactly: each service's projection.
PROJECTIONS: dict[str, tuple[str, ...]] = {
    "events": PROJECTION_COLLECTIONS,
    "knowledge": KNOWLEDGE_PROJECTION,
    "recognition": RECOGNITION_PROJECTION,
    "notifier": NOTIFIER_PROJECTION,
}
"""Each service's projection collections: what a replay rebuilds and a redelivery must not
change."""


Deadline = polling.TimedOut  # raised by `eventually` once its deadline has passed


async def eventually(
    check: Callable[[], Awaitable[Any]], *, what: str, timeout_s: float = 60, every_s: float = 0.3
) -> Any:
    """Poll until `check` answers something truthy, or fail (`Deadline`) naming `what`."""
    return await polling.eventually(check, what=what, timeout_s=timeout_s, interval_s=every_s)


# --- the workload ---------------------------------------------------------------------------


def workload(n: int, *, seed: int, namespace: str) -> list[dict[str, Any]]:
    """`n` events of a consistent history (every type other systems may send), as structured
    CloudEvents from the registered source, with ids of this namespace."""
    events = []
    for event in mixed_events(n, seed=seed, decisions=False):
        doc = event.model_dump(mode="json", exclude_none=True)
        doc["source"] = SOURCE
        doc["id"] = f"{namespace}-{doc['id']}"
        events.append(doc)
    return events


def types_of(events: Iterable[dict[str, Any]]) -> Counter[str]:
    return Counter(e["type"] for e in events)


@dataclass
class Ledger:
    """The client's side of the story."""

    sent: int = 0
    acknowledged: dict[str, str] = field(default_factory=dict)  # platform id -> type
    refused: Counter[str] = field(default_factory=Counter)  # answer -> how many times
    retry_after: set[str] = field(default_factory=set)  # Retry-After values seen on 503s

    def ack(self, event: dict[str, Any]) -> None:
        self.acknowledged[platform_id(event["source"], event["id"])] = event["type"]


class Sender:
    """Sends a workload, half over `POST /ingest` (batches) and half produced to `cop.inbound`,
    split by partition key so each key's events keep their order. A refused event is sent again
    (as a client honouring 503 + Retry-After would), until the deadline."""

    def __init__(self, platform: "Platform", ledger: Ledger, *, batch: int = 50) -> None:
        self.platform = platform
        self.ledger = ledger
        self.batch = batch

    @staticmethod
    def via_http(event: dict[str, Any]) -> bool:
        return sum(str(event["partitionkey"]).encode()) % 2 == 0

    async def send(
        self,
        events: Sequence[dict[str, Any]],
        *,
        between: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        """Send everything; `between(i)` runs after the i-th chunk (the fault goes there)."""
        http_events = [e for e in events if self.via_http(e)]
        kafka_events = [e for e in events if not self.via_http(e)]
        self.ledger.sent += len(events)
        chunks_http = [
            http_events[i : i + self.batch] for i in range(0, len(http_events), self.batch)
        ]
        chunks_kafka = [
            kafka_events[i : i + self.batch] for i in range(0, len(kafka_events), self.batch)
        ]
        producer = AIOKafkaProducer(
            bootstrap_servers=self.platform.infra.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=5000,
            retry_backoff_ms=200,
        )
        await producer.start()
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                for i in range(max(len(chunks_http), len(chunks_kafka))):
                    await asyncio.gather(
                        self._post(http, chunks_http[i]) if i < len(chunks_http) else _nothing(),
                        self._produce(producer, chunks_kafka[i])
                        if i < len(chunks_kafka)
                        else _nothing(),
                    )
                    if between is not None:
                        await between(i)
        finally:
            await producer.stop()

    async def _post(self, http: httpx.AsyncClient, chunk: list[dict[str, Any]]) -> None:
        deadline = time.monotonic() + 120
        pending = chunk
        while pending:
            try:
                response = await http.post(
                    f"{self.platform.urls['events']}/ingest",
                    json=pending,
                    headers={
                        "Authorization": f"Bearer {self.platform.api_key}",
                        "content-type": "application/cloudevents-batch+json",
                    },
                )
            except httpx.TransportError as e:
                self.ledger.refused[type(e).__name__] += len(pending)
                await self._pause(deadline, 0.5)
                continue
            if response.status_code == 503:
                assert response.headers["content-type"].startswith("application/problem+json")
                self.ledger.retry_after.add(response.headers.get("retry-after", "missing"))
                self.ledger.refused["503"] += len(pending)
                await self._pause(deadline, 0.5)
                continue
            assert response.status_code == 200, response.text
            for event, result in zip(pending, response.json()["results"], strict=True):
                assert result["status"] in ("accepted", "duplicate"), result
                self.ledger.ack(event)
            pending = []

    async def _produce(self, producer: AIOKafkaProducer, chunk: list[dict[str, Any]]) -> None:
        """The chunk in one go (the idempotent producer keeps each partition's order); what
        was not acknowledged is sent again."""
        deadline = time.monotonic() + 120
        topic = self.platform.topic(Topic.INBOUND)
        pending = chunk
        while pending:
            sends = [
                await producer.send(
                    topic,
                    json.dumps(event).encode(),
                    key=event["partitionkey"].encode(),
                    headers=[("content-type", b"application/cloudevents+json")],
                )
                for event in pending
            ]
            results = await asyncio.gather(*sends, return_exceptions=True)
            failed = []
            for event, result in zip(pending, results, strict=True):
                if isinstance(result, BaseException):  # not an acknowledgement
                    self.ledger.refused[f"produce {type(result).__name__}"] += 1
                    failed.append(event)
                else:
                    self.ledger.ack(event)
            pending = failed
            if pending:
                await self._pause(deadline, 0.5)

    @staticmethod
    async def _pause(deadline: float, seconds: float) -> None:
        if time.monotonic() > deadline:
            raise Deadline("the platform refused events for more than 120 s")
        await asyncio.sleep(seconds)


async def _nothing() -> None:
    return None


# --- the platform ---------------------------------------------------------------------------


@dataclass
class Platform:
    """Four services (and optionally second replicas) in one namespace on the suite's infra."""

    infra: Infra
    namespace: str
    base: Path
    sinks: Sinks
    specs: dict[str, ServiceSpec] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    api_key: str = ""
    replica_urls: list[dict[str, str]] = field(default_factory=list)  # [replica][service]
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)  # [service] -> env

    @property
    def prefix(self) -> str:
        return f"{self.namespace}."

    def topic(self, name: Topic | str) -> str:
        return f"{self.prefix}{name}"

    def database(self, service: str) -> str:
        return f"{self.namespace}_{service}"

    def group(self, service: str) -> str:
        return f"{self.namespace}-{service}"

    def env_for(self, spec: ServiceSpec) -> dict[str, str]:
        return {
            "KAFKA_TOPIC_PREFIX": self.prefix,
            "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
            "KAFKA_CONSUMER_GROUP": self.group(spec.name),
            "MONGODB_DATABASE": self.database(spec.name),
            "COP_TRACE_FILE": str(self.base / "traces" / f"{spec.name}-{spec.port}.jsonl"),
            "SMTP_PORT": str(self.sinks.smtp_port),
            "CHAT_WEBHOOK_URL": self.sinks.chat_url,
            "CHAT_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "RECOGNITION_URL": f"http://127.0.0.1:{self.specs['recognition'].port}",
            "NOTIFIER_URL": f"http://127.0.0.1:{self.specs['notifier'].port}",
            "CONSUMER_RETRY_BACKOFF_MS": "50",
            "LOG_LEVEL": "WARNING",
            **self.overrides.get(spec.name, {}),
        }

    def instance(self, replica: int = 0) -> Instance:
        return Instance(prefix=f"{self.namespace}-r{replica}-")

    def start(self, replicas: int = 1) -> None:
        """Every service; with `replicas`, that many processes of each, on ports of their own,
        in the same consumer groups (the environment differs only by the HTTP port)."""
        self.specs = {name: ServiceSpec(name, free_port()) for name in SERVICE_NAMES}
        self.urls = start_services(
            self.infra,
            specs=tuple(self.specs.values()),
            env_for=self.env_for,
            prefix=self.instance(0).prefix,
        )
        self.replica_urls = [self.urls]
        for replica in range(1, replicas):
            extra = tuple(ServiceSpec(name, free_port()) for name in SERVICE_NAMES)
            self.replica_urls.append(
                start_services(
                    self.infra,
                    specs=extra,
                    env_for=self.env_for,
                    prefix=self.instance(replica).prefix,
                )
            )

    def process(self, service: str, replica: int = 0) -> str:
        return self.instance(replica).name(service)

    def kill(self, service: str, replica: int = 0) -> None:
        """kill -9: no shutdown code runs."""
        assert kill(self.process(service, replica)), f"{service} was not running"

    def restart(self, service: str, replica: int = 0) -> None:
        """The same code path as `copctl dev restart SERVICE`, for this namespace."""
        stack.restart(service, instance=self.instance(replica), hard=True)

    def stop(self) -> None:
        for service in SERVICE_NAMES:
            self.stop_service(service, timeout_s=5)

    def stop_service(self, service: str, timeout_s: float = 10) -> None:
        """Every replica of the service, with SIGTERM (it commits what it applied)."""
        for replica in range(MAX_REPLICAS):
            stop(self.process(service, replica), timeout_s=timeout_s)

    def running(self, service: str, replica: int = 0) -> bool:
        return running(self.process(service, replica)) is not None

    def settings(self, service: str) -> ServiceSettings:
        settings_class = REBUILDS[service].settings
        return settings_class(
            kafka_bootstrap_servers=self.infra.kafka_bootstrap_servers,
            mongodb_uri=self.infra.mongodb_uri,
            redis_url=self.infra.redis_url,
            kafka_topic_prefix=self.prefix,
            kafka_consumer_group=self.group(service),
            mongodb_database=self.database(service),
        )

    async def register_source(self) -> None:
        types = sorted(t for t in CATALOG if t not in DECISIONS)
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                f"{self.urls['events']}/sources",
                json={"name": SOURCE, "types": types, "rate_limit_per_minute": 1_000_000},
                headers=bearer("ops", admin=True),
            )
        assert response.status_code == 201, response.text
        self.api_key = response.json()["api_key"]

    def operator_env(self) -> dict[str, str]:
        """What an operator's shell has to run copctl against this platform."""
        return {
            **os.environ,
            **self.infra.env(),
            "KAFKA_TOPIC_PREFIX": self.prefix,
            "EVENTS_URL": self.urls["events"],
            "RECOGNITION_URL": self.urls["recognition"],
            "KNOWLEDGE_URL": self.urls["knowledge"],
        }

    async def ready(self, service: str, replica: int = 0) -> bool:
        return await self.readiness(service, replica) == {}

    async def readiness(self, service: str, replica: int = 0) -> dict[str, str] | None:
        """The failing checks of `/readyz` ({} when ready); None when it does not answer."""
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                response = await http.get(f"{self.replica_urls[replica][service]}/readyz")
        except httpx.HTTPError:
            return None
        if response.status_code == 200:
            return {}
        checks = response.json().get("checks", {})
        return {name: result for name, result in checks.items() if result != "ok"}


# --- reading what happened -------------------------------------------------------------------


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record of a topic, from the beginning, without a consumer group."""
    return await read_from_start(bootstrap, [topic])


def body_of(record: Any) -> dict[str, Any] | None:
    """A record's value as a JSON object; None for anything else (poison, binary mode)."""
    try:
        body = json.loads(record.value)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def ce_id(record: Any) -> str | None:
    for name, value in record.headers or ():
        if name == "ce_id":
            return str(value.decode())
    body = body_of(record)
    return None if body is None else body.get("id")


async def domain_ids(platform: Platform) -> Counter[str]:
    """How many times each event id is on the domain topics."""
    found: Counter[str] = Counter()
    for topic in DOMAIN_TOPICS:
        for record in await read_topic(
            platform.infra.kafka_bootstrap_servers, platform.topic(topic)
        ):
            if (event_id := ce_id(record)) is not None:
                found[event_id] += 1
    return found


async def committed_offsets(platform: Platform) -> dict[str, dict[TopicPartition, int]]:
    """Each consumer group of the namespace: the offsets it committed, per partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        groups = [
            g[0] for g in await admin.list_consumer_groups() if g[0].startswith(platform.namespace)
        ]
        found = {}
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            found[group] = {tp: meta.offset for tp, meta in offsets.items()}
        return found
    finally:
        await admin.close()


async def lags(platform: Platform) -> dict[str, int] | None:
    """Records not yet processed, per consumer group of the namespace (None: unknown)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=platform.infra.kafka_bootstrap_servers)
    await consumer.start()
    try:
        found = {}
        for group, offsets in (await committed_offsets(platform)).items():
            if not offsets:
                continue
            ends = await consumer.end_offsets(list(offsets))
            found[group] = sum(max(0, ends[tp] - offset) for tp, offset in offsets.items())
        return found
    except Exception:
        return None
    finally:
        await consumer.stop()


async def group_members(platform: Platform) -> dict[str, int]:
    """How many consumers each consumer group of the namespace has right now."""
    groups = list(await committed_offsets(platform))
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        found = {}
        for group in groups:
            # One group per request: aiokafka 0.14 reads a DescribeGroups v3 answer with the v2
            # layout, which holds for one group only (the extra field comes last).
            (response,) = await admin.describe_consumer_groups([group])
            found[group] = len(response.to_object()["groups"][0]["members"])
        return found
    finally:
        await admin.close()


async def rewind_every_group(platform: Platform) -> dict[str, int]:
    """Put every consumer group of the namespace back to the beginning of every topic it
    consumes (its services stopped), as `copctl replay` does for one; returns the partitions
    rewound per group."""
    rewound = {}
    for group, offsets in (await committed_offsets(platform)).items():
        topics = sorted({tp.topic for tp in offsets})
        rewound[group] = await rewind_group(platform.infra.kafka_bootstrap_servers, group, topics)
    return rewound


async def dead_letters(platform: Platform, service: str) -> list[Any]:
    return await read_topic(
        platform.infra.kafka_bootstrap_servers, platform.topic(dlq_topic(service))
    )


async def dead_lettered(platform: Platform) -> dict[str, int]:
    """How many records each service parked on its `cop.dlq.<service>`."""
    return {s: len(await dead_letters(platform, s)) for s in SERVICE_NAMES}


def headers_of(record: Any) -> dict[str, str]:
    return {k: (v or b"").decode(errors="replace") for k, v in record.headers or ()}


def copctl(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m copctl ARGS` as an operator runs it against this platform."""
    return subprocess.run(
        [sys.executable, "-m", "copctl", *args],
        capture_output=True,
        text=True,
        env=platform.operator_env(),
        cwd=REPO_ROOT,
        check=False,
        timeout=120,
    )


async def settled(platform: Platform, *, timeout_s: float = 120) -> None:
    """Wait until every consumer group of the namespace has processed everything, twice in a
    row a moment apart (a group's output is the next one's input)."""
    streak = 0
    last: dict[str, int] | None = None

    async def quiet() -> bool:
        nonlocal streak, last
        last = await lags(platform)
        streak = streak + 1 if last is not None and not any(last.values()) else 0
        return streak >= 3

    try:
        await eventually(
            quiet, what="every consumer group caught up", timeout_s=timeout_s, every_s=1
        )
    except Deadline as e:
        raise Deadline(f"{e}; lag per group: {last}") from None


Snapshot = dict[str, dict[Any, dict[str, Any]]]


async def snapshot(
    platform: Platform, service: str, collections: Sequence[str], ignore: frozenset[str]
) -> Snapshot:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.infra.mongodb_uri)
    try:
        db = client[platform.database(service)]
        taken: Snapshot = {}
        for name in collections:
            taken[name] = {doc["_id"]: _without(doc, ignore) async for doc in db[name].find()}
        return taken
    finally:
        await client.close()


def _without(doc: Any, ignore: frozenset[str]) -> Any:
    """The document without the ignored fields; a list of plain values is a set (`$addToSet`
    keeps the order the writes came in, which concurrent partitions do not fix)."""
    if isinstance(doc, dict):
        return {k: _without(v, ignore) for k, v in doc.items() if k not in ignore}
    if isinstance(doc, list):
        items = [_without(v, ignore) for v in doc]
        if all(isinstance(v, str) for v in items):
            return sorted(items)
        return items
    return doc


def _delta(one: Any, two: Any, path: str = "") -> list[str]:
    if isinstance(one, dict) and isinstance(two, dict):
        return [
            d
            for k in sorted(set(one) | set(two))
            for d in _delta(one.get(k), two.get(k), f"{path}.{k}")
        ]
    return [] if one == two else [f"{path}: {one!r} != {two!r}"[:300]]


def differences(before: Snapshot, after: Snapshot, limit: int = 5) -> list[str]:
    found = []
    for name in sorted(set(before) | set(after)):
        one, two = before.get(name, {}), after.get(name, {})
        for key in sorted(set(one) | set(two), key=str):
            if one.get(key) != two.get(key):
                found.append(f"{name}[{key}]" + "; ".join(_delta(one.get(key), two.get(key))[:4]))
                if len(found) >= limit:
                    return found
    return found


async def projections(platform: Platform, services: Sequence[str]) -> dict[str, Snapshot]:
    """Each service's projection (`PROJECTIONS`), without what the clock writes."""
    return {s: await snapshot(platform, s, PROJECTIONS[s], PROCESSING_TIME) for s in services}


async def _replay_when_stopped(platform: Platform, service: str, timeout_s: float = 60) -> None:
    """`copctl replay`, as an operator runs it: again once the group is empty (a replica that
    had to be killed on its way out stays a member until its session times out), and once
    more when the database was slow to answer on a loaded machine (the replay rewinds and
    drops again from the start)."""
    deadline = time.monotonic() + timeout_s
    retried_slow_database = False
    while True:
        try:
            await replay(service, platform.settings(service))
            return
        except ReplayRefused:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
        except ServerSelectionTimeoutError:
            if retried_slow_database:
                raise
            retried_slow_database = True


async def replayed_equals(
    platform: Platform, services: Sequence[str] = SERVICE_NAMES
) -> dict[str, tuple[int, list[str]]]:
    """Snapshot the services' projections, rebuild them with `copctl replay` from offset 0
    (every service stopped, replayed and started again at once) and compare; per service, the
    number of documents compared and the differences."""
    before = await projections(platform, services)
    await asyncio.gather(*(asyncio.to_thread(platform.stop_service, s) for s in services))
    for service in services:
        await _replay_when_stopped(platform, service)
    await asyncio.gather(*(asyncio.to_thread(platform.restart, s) for s in services))
    await settled(platform)
    after = await projections(platform, services)
    return {
        s: (sum(len(docs) for docs in before[s].values()), differences(before[s], after[s]))
        for s in services
    }


@dataclass
class Count:
    """One fault's line in the summary."""

    fault: str
    sent: int
    acknowledged: int
    found: int
    missing: int
    duplicates: int
    extra: str = ""

    def line(self) -> str:
        return (
            f"{self.fault}: sent {self.sent}, acknowledged {self.acknowledged}, found "
            f"{self.found}, missing {self.missing}, duplicates {self.duplicates}"
            + (f" ({self.extra})" if self.extra else "")
        )


SUMMARY: list[Count] = []


@dataclass
class Effects:
    """Effects that must happen at most once, by what makes them unique.

    An e-mail or chat post received again with the identity of its first attempt (the same
    `Message-ID`; the same `Idempotency-Key`) is a repeat a receiver can drop: the notifier
    sends again what it cannot know was sent when it died mid-send. Such repeats are counted
    apart (`repeats`); a second e-mail with another identity is a duplicate."""

    badges: Counter[tuple[str, str]]  # (member, badge): decisions (event ids) awarding it
    mails: Counter[str]  # X-Cop-Notification-Id received by the SMTP sink: distinct Message-IDs
    posts: Counter[str]  # Idempotency-Key received by the chat sink: distinct events posted
    badge_copies: int = 0  # a decision's record published again under its id (absorbed)
    repeats: int = 0  # e-mails and posts received again with their first identity

    @property
    def duplicates(self) -> int:
        return sum(
            n - 1 for c in (self.badges, self.mails, self.posts) for n in c.values() if n > 1
        )

    def repeated(self) -> list[str]:
        """Each effect that happened more than once, and how many times."""
        named: dict[str, Counter[Any]] = {
            "badge": self.badges,
            "e-mail": self.mails,
            "chat post": self.posts,
        }
        return [f"{what} {key} x{n}" for what, c in named.items() for key, n in c.items() if n > 1]


async def effects(platform: Platform) -> Effects:
    """A member's badge is awarded twice when two decisions (event ids) award it, in whichever
    communities. The same decision's record published again (recognition publishes before it
    records, so a crash or a concurrent replica in between publishes it again under the same
    id) is at-least-once delivery, absorbed by every consumer, and only counted as a copy."""
    decisions: dict[tuple[str, str], set[str]] = {}
    records = 0
    for record in await read_topic(
        platform.infra.kafka_bootstrap_servers, platform.topic(Topic.RECOGNITION)
    ):
        body = body_of(record)
        if body is not None and body.get("type") == "cop.badge.awarded.v1":
            data = body["data"]
            decisions.setdefault((data["member_id"], data["badge"]), set()).add(body["id"])
            records += 1
    badges = Counter({key: len(ids) for key, ids in decisions.items()})
    identities: dict[str, set[str]] = {}
    received = 0
    for mail in platform.sinks.mails():
        notification = str(mail["X-Cop-Notification-Id"])
        identities.setdefault(f"mail {notification}", set()).add(str(mail["Message-ID"]))
        received += 1
    for post in platform.sinks.posts():
        key = str({k.lower(): v for k, v in post["headers"].items()}.get("idempotency-key"))
        event = str((post.get("body") or {}).get("event", {}).get("id"))
        identities.setdefault(f"post {key}", set()).add(event)
        received += 1
    mails = Counter({k[5:]: len(v) for k, v in identities.items() if k.startswith("mail ")})
    posts = Counter({k[5:]: len(v) for k, v in identities.items() if k.startswith("post ")})
    repeats = received - sum(mails.values()) - sum(posts.values())
    return Effects(badges, mails, posts, records - sum(badges.values()), repeats)


async def account(platform: Platform, ledger: Ledger, fault: str, extra: str = "") -> Count:
    """What was acknowledged against what is on the domain topics, and the effects that must
    not happen twice (badges awarded, e-mails and chat posts received by the sinks).

    A record may be on a topic more than once (a publish retried after a crash before it was
    recorded): that is at-least-once delivery, which every consumer absorbs; it is reported,
    not counted as a duplicate effect."""
    on_topics = await domain_ids(platform)
    acked = set(ledger.acknowledged)
    missing = acked - set(on_topics)
    copies = sum(on_topics[i] - 1 for i in acked if on_topics[i] > 1)
    made = await effects(platform)
    notes = [
        f"{sum(made.badges.values())} badges, {sum(made.mails.values())} e-mails, "
        f"{sum(made.posts.values())} chat posts",
        f"{copies} records redelivered on the bus",
    ]
    if made.repeats:
        notes.append(f"{made.repeats} e-mails or posts received again with their identity")
    if made.badge_copies:
        notes.append(f"{made.badge_copies} badge records published again under their ids")
    if made.duplicates:
        notes.append("twice: " + ", ".join(made.repeated()[:5]))
    if ledger.refused:
        notes.append("refused: " + ", ".join(f"{k} x{v}" for k, v in ledger.refused.items()))
    if extra:
        notes.append(extra)
    count = Count(
        fault,
        ledger.sent,
        len(acked),
        len(acked & set(on_topics)),
        len(missing),
        made.duplicates,
        "; ".join(notes),
    )
    SUMMARY.append(count)
    print(count.line(), flush=True)
    return count


def new_namespace(kind: str) -> str:
    return f"f{kind}{uuid.uuid4().hex[:6]}"
