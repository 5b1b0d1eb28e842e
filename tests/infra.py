"""Where the tests' Kafka, MongoDB-protocol server and Redis come from, in this order:

1. `KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`, `REDIS_URL` from the environment;
2. containers (testcontainers) when a Docker engine answers;
3. the project's own local processes (`copctl.devstack`), reused when already running.
"""

import asyncio
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

if TYPE_CHECKING:
    from copctl.devstack.stack import Infra

KAFKA_IMAGE = "apache/kafka:4.1.1"
MONGO_IMAGE = "mongo:8.0"
REDIS_IMAGE = "redis:8"
INFRA_VARIABLES = ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI", "REDIS_URL")


@dataclass
class Infrastructure:
    kafka_bootstrap_servers: str
    mongodb_uri: str
    redis_url: str
    origin: str
    kafka_version: str
    facts: dict[str, str] = field(default_factory=dict)

    def stack(self) -> "Infra":
        """The same three, as `copctl.devstack` takes them to start services on."""
        from copctl.devstack.stack import Infra

        return Infra(self.kafka_bootstrap_servers, self.mongodb_uri, self.redis_url)

    def env(self) -> dict[str, str]:
        return self.stack().env()

    def urls(self) -> tuple[str, str, str]:
        """Kafka's bootstrap servers, the MongoDB URI and the Redis URL (`INFRA_VARIABLES`)."""
        return (self.kafka_bootstrap_servers, self.mongodb_uri, self.redis_url)


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def _from_containers() -> Iterator[Infrastructure]:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.mongodb import MongoDbContainer
    from testcontainers.community.redis import RedisContainer

    with (
        KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka,
        MongoDbContainer(MONGO_IMAGE) as mongo,
        RedisContainer(REDIS_IMAGE) as redis,
    ):
        host = redis.get_container_host_ip()
        yield Infrastructure(
            kafka_bootstrap_servers=kafka.get_bootstrap_server(),
            mongodb_uri=mongo.get_connection_url(),
            redis_url=f"redis://{host}:{redis.get_exposed_port(6379)}/0",
            origin="testcontainers",
            kafka_version=KAFKA_IMAGE.rpartition(":")[2],
        )


@contextlib.contextmanager
def _from_local_processes() -> Iterator[Infrastructure]:
    from copctl.devstack import kafka
    from copctl.devstack.processes import stop
    from copctl.devstack.stack import up_infra

    infra = up_infra()
    try:
        yield Infrastructure(
            kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
            mongodb_uri=infra.mongodb_uri,
            redis_url=infra.redis_url,
            origin="local processes (copctl.devstack): "
            + ", ".join(f"{k} {v}" for k, v in infra.notes.items()),
            kafka_version=kafka.version(),
        )
    finally:
        for name in reversed(infra.started):
            stop(name)


@contextlib.contextmanager
def provide_infra() -> Iterator[Infrastructure]:
    if all(os.environ.get(n) for n in INFRA_VARIABLES):
        yield Infrastructure(
            kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            mongodb_uri=os.environ["MONGODB_URI"],
            redis_url=os.environ["REDIS_URL"],
            origin="given by the environment",
            kafka_version="(given by the environment)",
        )
    elif _docker_answers():
        with _from_containers() as infra:
            yield infra
    else:
        with _from_local_processes() as infra:
            yield infra


async def describe(infra: Infrastructure) -> dict[str, str]:
    """What the tests are really talking to, read from the servers themselves."""
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        cluster: Any = await admin.describe_cluster()
        brokers = ", ".join(f"{b['host']}:{b['port']}" for b in cluster["brokers"])
        kafka = (
            f"Apache Kafka {infra.kafka_version}, cluster {cluster['cluster_id']}, "
            f"brokers {brokers}"
        )
    finally:
        await admin.close()
    mongo_client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    try:
        info = await mongo_client.admin.command("buildInfo")
        hello = await mongo_client.admin.command("isMaster")
        server = _mongo_server_name(info)
        mongo = (
            f"{server}, reports MongoDB {info.get('version')} "
            f"(wire version {hello.get('maxWireVersion')})"
        )
    finally:
        await mongo_client.close()
    redis = Redis.from_url(infra.redis_url)
    try:
        redis_info = await redis.info("server")
        redis_line = f"Redis {redis_info['redis_version']}"
    finally:
        await redis.aclose()
    return {"kafka": kafka, "mongodb": mongo, "redis": redis_line}


def _mongo_server_name(build_info: dict[str, Any]) -> str:
    """The server behind the MongoDB version that `buildInfo` reports."""
    if "mongoJavaServerVersion" in build_info:  # our launcher, deploy/local/mongo-java-server
        backend = {"h2": "H2 file", "memory": "in memory"}.get(
            str(build_info.get("mongoJavaServerBackend")), "unknown backend"
        )
        return f"mongo-java-server {build_info['mongoJavaServerVersion']} ({backend})"
    if "ferretdbVersion" in build_info:
        reported = build_info["ferretdbVersion"]  # "unknown" in an embedded build
        return "FerretDB" if reported == "unknown" else f"FerretDB {reported}"
    if "gitVersion" not in build_info:  # mongo-java-server started some other way
        return "mongo-java-server (version not reported)"
    return "MongoDB"


def describe_sync(infra: Infrastructure) -> dict[str, str]:
    return asyncio.run(describe(infra))
