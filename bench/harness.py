"""What the benchmarks run on: the project's own stack code, and apps kept apart from the live ones.

The infrastructure comes from `copctl.devstack.stack.up_infra()` (which honours
`KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI` and `REDIS_URL`, reuses a running local stack and starts
what is missing). Every benchmark app works in its own topic prefix, consumer group and database,
so it never joins the live stack's consumer groups nor reads or writes its data, and all of them
are removed at the end.

Also what several benchmarks share: their sizes read from the environment or the command line,
events and records produced to a benchmark's topics, timed requests to an app and the checks of
its answers, and running one benchmark on its own (`python -m bench.<name>`).
"""

import argparse
import asyncio
import contextlib
import dataclasses
import os
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from pydantic import BaseModel
from pymongo import AsyncMongoClient, MongoClient

from bench.report import write_section, write_table
from shared.auth import issue_token
from shared.events.codec import KafkaRecord, encode
from shared.events.envelope import CloudEvent, new_event
from shared.kafka import ensure_topics
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

S = TypeVar("S", bound=ServiceSettings)
Sizes = TypeVar("Sizes", bound="DataclassInstance")
T = TypeVar("T")


@dataclass
class BenchInfra:
    kafka_bootstrap_servers: str
    mongodb_uri: str
    redis_url: str
    origin: str
    prefixes: set[str] = field(default_factory=set)
    databases: set[str] = field(default_factory=set)

    def namespace(self) -> str:
        """A fresh name for one benchmark's topics (`<ns>.`), group and database."""
        ns = f"bench{uuid.uuid4().hex[:8]}"
        self.prefixes.add(f"{ns}.")
        return ns

    def settings(self, settings_cls: type[S], namespace: str, **overrides: Any) -> S:
        service = settings_cls().service_name
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": self.kafka_bootstrap_servers,
            "mongodb_uri": self.mongodb_uri,
            "redis_url": self.redis_url,
            "kafka_topic_prefix": f"{namespace}.",
            "kafka_consumer_group": f"{namespace}-{service}",  # never a live `cop-*` group
            "mongodb_database": f"{namespace}_{service}",
            **overrides,
        }
        self.databases.add(values["mongodb_database"])
        return settings_cls(**values)


@contextlib.contextmanager
def provide_infra() -> Iterator[BenchInfra]:
    """Kafka, MongoDB and Redis through the stack code; stops only what it started itself."""
    from copctl.devstack.processes import stop
    from copctl.devstack.stack import up_infra

    infra = up_infra()
    bench = BenchInfra(
        infra.kafka_bootstrap_servers,
        infra.mongodb_uri,
        infra.redis_url,
        origin=", ".join(f"{k} {v}" for k, v in infra.notes.items()),
    )
    try:
        yield bench
    finally:
        try:
            _drop_databases(bench)
        finally:
            for name in reversed(infra.started):
                stop(name)


def _drop_databases(infra: BenchInfra, names: Iterable[str] | None = None) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    try:
        for name in list(infra.databases if names is None else names):
            client.drop_database(name)
            infra.databases.discard(name)
    finally:
        client.close()


async def drop_databases(infra: BenchInfra, names: Iterable[str]) -> None:
    """Drop a finished part's databases at once, not at the end of the run, so that each part
    starts on a server holding only what the earlier parts still need."""
    await asyncio.to_thread(_drop_databases, infra, names)


async def delete_topics(infra: BenchInfra) -> int:
    """Remove the benchmarks' topics, so a long-lived local broker stays small."""
    if not infra.prefixes:
        return 0
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(tuple(infra.prefixes))]
        if doomed:
            await admin.delete_topics(doomed)
        return len(doomed)
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def serving(app: FastAPI, settings: ServiceSettings) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (topics, indexes, consumers) in this process; an HTTP client for it
    that acts as an operator (admin scope)."""
    token = issue_token(settings.auth_token_secret, "bench-ops", scopes=("admin",))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {token}"},
        ) as client,
    ):
        yield client


async def mongo_server(uri: str) -> str:
    """What the MongoDB URI really points at, as the server describes itself."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        info = await client.admin.command("buildInfo")
    finally:
        await client.close()
    if "mongoJavaServerVersion" in info:
        name = f"mongo-java-server {info['mongoJavaServerVersion']}"
        name += f" ({info.get('mongoJavaServerBackend')} backend)"
    elif "ferretdbVersion" in info:
        name = f"FerretDB {info['ferretdbVersion']}"
    else:
        name = "MongoDB"
    return f"{name}, reports MongoDB {info.get('version')}"


def _delete_groups_request(groups: list[str]) -> Any:
    """DeleteGroups (API 42, v1), which aiokafka's admin client does not offer."""
    from aiokafka.protocol.api import Request, RequestStruct, Response
    from aiokafka.protocol.types import Array, Int16, Int32, Schema, String

    # aiokafka ships no type hints: its protocol classes are Any, and strict mypy refuses a
    # subclass of Any (the three classes below)
    class DeleteGroupsResponseV1(Response):  # type: ignore[misc]
        API_KEY = 42
        API_VERSION = 1
        SCHEMA = Schema(
            ("throttle_time_ms", Int32),
            ("results", Array(("group_id", String("utf-8")), ("error_code", Int16))),
        )

    class DeleteGroupsRequestV1(RequestStruct):  # type: ignore[misc]
        API_KEY = 42
        API_VERSION = 1
        RESPONSE_TYPE = DeleteGroupsResponseV1
        SCHEMA = Schema(("groups_names", Array(String("utf-8"))))

    class DeleteGroupsRequest(Request[DeleteGroupsRequestV1]):  # type: ignore[misc]
        API_KEY = 42

        def build(self, request_struct_class: type[DeleteGroupsRequestV1]) -> DeleteGroupsRequestV1:
            return request_struct_class(groups)

    return DeleteGroupsRequest()


async def delete_groups(infra: BenchInfra) -> tuple[int, list[str]]:
    """Remove the benchmarks' consumer groups (those of their namespaces); returns how many were
    deleted and the ones the broker refused (e.g. still with members)."""
    namespaces = tuple(p.rstrip(".") for p in infra.prefixes)
    if not namespaces:
        return 0, []
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    deleted, refused = 0, []
    try:
        groups = [g for g, *_ in await admin.list_consumer_groups() if g.startswith(namespaces)]
        for group in groups:
            node = await admin.find_coordinator(group)
            response = await admin._send_request(_delete_groups_request([group]), node)
            for name, code in response.results:
                if code == 0:
                    deleted += 1
                else:
                    refused.append(f"{name} (error {code})")
    finally:
        await admin.close()
    return deleted, refused


# --- sizes, events, requests and checks ---


def sizes_from_env(defaults: Sizes, prefix: str) -> Sizes:
    """`defaults` (a dataclass of sizes) with each field read from `<prefix><FIELD>` where it is
    set: `BENCH_SEARCH_BUDGET_S` for the field `budget_s` of prefix `BENCH_SEARCH_`."""
    changes = {
        f.name: type(getattr(defaults, f.name))(os.environ[prefix + f.name.upper()])
        for f in dataclasses.fields(defaults)
        if prefix + f.name.upper() in os.environ
    }
    return dataclasses.replace(defaults, **changes)


class Facts:
    """Event data at the times of their facts, and the CloudEvents they make: in time order (facts
    of one time in the order they were added), with the ids `<id_prefix>-<number>`."""

    def __init__(self, source: str, id_prefix: str) -> None:
        self.source, self.id_prefix = source, id_prefix
        self._facts: list[tuple[datetime, int, BaseModel]] = []

    def add(self, at: datetime, data: BaseModel) -> None:
        self._facts.append((at, len(self._facts), data))

    def events(self) -> list[CloudEvent]:
        return [
            new_event(data, source=self.source, time=at, event_id=f"{self.id_prefix}-{seq:06d}")
            for at, seq, data in sorted(self._facts, key=lambda f: (f[0], f[1]))
        ]


async def produce_events(
    infra: BenchInfra, prefix: str, events: Iterable[CloudEvent]
) -> Counter[str]:
    """Every event to its topic under `prefix`, keyed as the catalog says; counts per topic."""
    await ensure_topics(infra.kafka_bootstrap_servers, topic_prefix=prefix)
    records = [encode(event) for event in events]
    await send_records(
        infra.kafka_bootstrap_servers,
        records,
        lambda record: prefix + record.topic,
        max_batch_size=256 * 1024,
    )
    return Counter(record.topic for record in records)


async def send_records(
    bootstrap: str,
    records: Iterable[KafkaRecord],
    topic: Callable[[KafkaRecord], str],
    *,
    max_batch_size: int,
    max_request_size: int = 1024 * 1024,
) -> float:
    """Every record to `topic(record)` with its key and headers, from a producer as the services
    have (acks=all, idempotent) that sends without awaiting each (linger 5 ms); returns the
    seconds from the first send until the broker has acknowledged them all."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=max_batch_size,
        max_request_size=max_request_size,
    )
    await producer.start()
    try:
        began = time.perf_counter()
        pending = []
        for record in records:
            headers = [(k, v.encode()) for k, v in record.headers.items()]
            pending.append(
                await producer.send(topic(record), record.value, key=record.key, headers=headers)
            )
        await asyncio.gather(*pending)
        return time.perf_counter() - began
    finally:
        await producer.stop()


@dataclass
class Latency:
    """How long requests took (seconds), shown in milliseconds."""

    samples: list[float] = field(default_factory=list)

    def percentile(self, p: int) -> float:
        ms = [s * 1000 for s in self.samples]
        if len(ms) < 2:
            return ms[0] if ms else 0.0
        return statistics.quantiles(ms, n=100, method="inclusive")[p - 1]

    def row(self, *, worst: bool = False) -> str:
        """`p50 / p95 / p99 (requests)` in ms; with `worst`, the slowest in place of p99."""
        if not self.samples:
            return "no requests"
        last = max(self.samples) * 1000 if worst else self.percentile(99)
        p50, p95 = self.percentile(50), self.percentile(95)
        return f"{p50:.1f} / {p95:.1f} / {last:.1f} ({len(self.samples)})"


async def get_json(
    client: httpx.AsyncClient, path: str, latency: Latency | None = None, **options: Any
) -> Any:
    """`GET path`, timed into `latency`; its JSON body, or AssertionError unless it is a 200."""
    began = time.perf_counter()
    response = await client.get(path, **options)
    if latency is not None:
        latency.samples.append(time.perf_counter() - began)
    if response.status_code != 200:
        raise AssertionError(f"GET {path}: {response.status_code} {response.text[:500]}")
    return response.json()


class Checks:
    """Answers compared with what they should be: how many, and the wrong ones (counted by what
    they are about, where a check says)."""

    def __init__(self) -> None:
        self.compared = 0
        self.wrong: list[str] = []
        self.by_subject: Counter[str] = Counter()

    @property
    def passed(self) -> int:
        return self.compared - len(self.wrong)

    def that(self, ok: bool, what: str, subject: str = "") -> bool:
        self.compared += 1
        if not ok:
            self.wrong.append(what)
            if subject:
                self.by_subject[subject] += 1
        return ok

    def equal(self, subject: str, where: str, got: Any, expected: Any) -> bool:
        return self.that(got == expected, f"{where}: service {got}, expected {expected}", subject)


# --- one benchmark on its own: python -m bench.<name> ---


def _command_line(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of `python -m bench.<name>`, described by the first line of `doc`."""
    description = (doc or name).splitlines()[0]
    return argparse.ArgumentParser(prog=f"python -m bench.{name}", description=description)


def sizes_parser(
    bench: ModuleType, defaults: "DataclassInstance", **helps: str
) -> argparse.ArgumentParser:
    """The command line of `python -m bench.<name>` (the package `bench`, described by its
    docstring) with an option for each field of `defaults` (a dataclass of sizes): `--budget-s`
    for the field `budget_s`, the field's value its default and `helps[field]` its help.
    `sizes_of` reads the sizes back from the parsed arguments."""
    parser = _command_line(bench.__name__.removeprefix("bench."), bench.__doc__)
    for f in dataclasses.fields(defaults):
        value = getattr(defaults, f.name)
        option = "--" + f.name.replace("_", "-")
        parser.add_argument(option, type=type(value), default=value, help=helps.get(f.name))
    return parser


def sizes_of(args: argparse.Namespace, defaults: Sizes) -> Sizes:
    """`defaults` with each field as given on the command line of `sizes_parser`."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(defaults)}
    return dataclasses.replace(defaults, **given)


def run_alone(
    name: str, title: str, run: Callable[[BenchInfra], Awaitable[dict[str, Any]]]
) -> None:
    """Run a benchmark whose result is one `{metric: value}` row on the infrastructure
    `provide_infra` gives, remove its topics, and write `bench-results/<name>.json` and `.md`."""

    async def then_clean(infra: BenchInfra) -> dict[str, Any]:
        try:
            return await run(infra)
        finally:
            await delete_topics(infra)

    with provide_infra() as infra:
        row = asyncio.run(then_clean(infra))
        write_table(name, title, row, infra.origin, asyncio.run(mongo_server(infra.mongodb_uri)))


def run_services_alone(
    bench: Callable[..., Coroutine[Any, Any, dict[str, Any]]],
    name: str,
    title: str,
    doc: str | None,
) -> None:
    """The command line of a benchmark of service processes run on its own
    (`[--quick] [--repeats 3] [--profile DIR]`); writes `bench-results/<name>.json` and `.md`."""
    parser = _command_line(name, doc or title)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None, help="pyinstrument sessions here")
    args = parser.parse_args()
    with provide_infra() as infra:
        result = asyncio.run(
            bench(infra, quick=args.quick, repeats=args.repeats, profile_dir=args.profile)
        )
    write_section(name, title, result)
