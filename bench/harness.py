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
