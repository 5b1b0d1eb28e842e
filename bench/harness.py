"""What the benchmarks run on: the project's own stack code, and apps kept apart from the live ones.

The infrastructure comes from `copctl.devstack.stack.up_infra()` (which honours
`KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI` and `REDIS_URL`, reuses a running local stack and starts
what is missing). Every benchmark app works in its own topic prefix, consumer group and database,
so it never joins the live stack's consumer groups nor reads or writes its data, and all of them
are removed at the end.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from pymongo import AsyncMongoClient, MongoClient

from shared.auth import issue_token
from shared.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


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


def _drop_databases(infra: BenchInfra) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    try:
        for name in infra.databases:
            client.drop_database(name)
    finally:
        client.close()


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
