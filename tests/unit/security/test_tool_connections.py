"""The clients made outside a service's runtime — the rebuilds `copctl replay` runs, copctl's
`emit`, `topics` and `dlq`, the notifier's rate-limit storage — connect with the same TLS, SASL
and credentials as the runtime's (`tests/unit/security/test_connection_settings.py`).

Every Kafka and MongoDB client those places make is replaced by a recorder that keeps the
options it was given and answers like an empty cluster, so each test runs the real code to the
end and then checks what every client it made was given.
"""

import ssl
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any, Self

import pytest
from aiokafka import TopicPartition
from faststream.security import SASLScram512
from limits.aio.storage import RedisStorage
from limits.aio.storage.redis.redispy import RedispyBridge
from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection
from typer.testing import CliRunner

import copctl.dlq
import copctl.replay
import copctl.topics
import services.notifier.rebuild
import services.recognition.rebuild
import shared.kafka
import shared.mongo
from copctl.cli import app
from copctl.dlq import DeadLetter, read_dead_letters, redrive
from copctl.emit import publish
from copctl.replay import REBUILDS, replay
from copctl.topics import operator_security, partitions_of
from services.events import rebuild as events_rebuild
from services.events.settings import EventsSettings
from services.knowledge import rebuild as knowledge_rebuild
from services.knowledge.settings import KnowledgeSettings
from services.notifier import rebuild as notifier_rebuild
from services.notifier.adapters.rate_limits import rate_limit_storage
from services.notifier.settings import NotifierSettings
from services.recognition import rebuild as recognition_rebuild
from services.recognition.settings import RecognitionSettings
from shared.events.catalog import MemberProfileUpdated
from shared.events.envelope import new_event
from shared.kafka import kafka_client_options
from shared.mongo import drop_collections
from shared.settings import ServiceSettings

SYSTEM_CA = ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile
BOOTSTRAP = "127.0.0.1:1"  # nothing listens: a client that escaped the recorder fails fast

SECURED_ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP,
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "cop-ops",
    "KAFKA_SASL_PASSWORD": "kafka-pw",
    "KAFKA_SSL_CAFILE": SYSTEM_CA,
    "MONGODB_URI": "mongodb://db1.example,db2.example/?replicaSet=rs0",
    "MONGODB_USERNAME": "cop",
    "MONGODB_PASSWORD": "mongo-pw",
    "MONGODB_AUTH_SOURCE": "admin",
    "MONGODB_TLS": "true",
    "MONGODB_TLS_CA_FILE": SYSTEM_CA,
    "MONGODB_WRITE_CONCERN": "majority",
    "REDIS_URL": "rediss://redis.example:6380/0",
    "REDIS_USERNAME": "cop",
    "REDIS_PASSWORD": "redis-pw",
    "REDIS_SSL_CA_CERTS": SYSTEM_CA,
}


# --- recorders --------------------------------------------------------------------------------


@dataclass
class Made:
    """Every client made, with the options it was given."""

    kafka: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    mongo: list[dict[str, Any]] = field(default_factory=list)
    redis: list[Redis] = field(default_factory=list)


class _Response:
    def to_object(self) -> dict[str, Any]:
        return {"groups": [{"state": "Empty", "members": []}]}


class _AsyncContext:
    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass


def kafka_recorders(made: Made) -> dict[str, type]:
    """Stand-ins for aiokafka's admin, consumer and producer and FastStream's broker: an empty
    cluster where every topic has one partition."""

    class Client(_AsyncContext):
        """Records the options it is made with; starting and stopping it does nothing."""

        kind = ""

        def __init__(self, *topics: str, **options: Any) -> None:
            made.kafka.append((self.kind, options))

        async def start(self) -> None:
            pass

        async def stop(self) -> None:
            pass

        async def close(self) -> None:
            pass

    class Admin(Client):
        kind = "admin"

        async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
            return [{"topic": t, "partitions": [{"partition": 0}]} for t in topics]

        async def describe_consumer_groups(self, groups: list[str]) -> list[_Response]:
            return [_Response() for _ in groups]

        async def list_topics(self) -> list[str]:
            return []

        async def create_topics(self, topics: list[Any]) -> Any:
            return SimpleNamespace(topic_errors=[(t.name, 0) for t in topics])

    class Consumer(Client):
        kind = "consumer"

        def assign(self, partitions: list[TopicPartition]) -> None:
            pass

        async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
            pass

        async def beginning_offsets(self, ps: list[TopicPartition]) -> dict[TopicPartition, int]:
            return dict.fromkeys(ps, 0)

        async def end_offsets(self, ps: list[TopicPartition]) -> dict[TopicPartition, int]:
            return dict.fromkeys(ps, 0)

        async def position(self, partition: TopicPartition) -> int:
            return 0

        async def commit(self, offsets: dict[TopicPartition, int]) -> None:
            pass

    class Producer(Client):
        kind = "producer"

        async def send_and_wait(self, topic: str, value: bytes, **kw: Any) -> None:
            pass

    class Broker(_AsyncContext):
        def __init__(self, *servers: str, security: Any = None, **options: Any) -> None:
            made.kafka.append(("broker", kafka_client_options(security)))

        async def connect(self) -> None:
            pass

        async def publish(self, *args: Any, **kw: Any) -> None:
            pass

    return {"admin": Admin, "consumer": Consumer, "producer": Producer, "broker": Broker}


class MongoRecorder:
    """A MongoDB client whose databases are empty and whose writes succeed."""

    made: list[dict[str, Any]]

    def __init__(self, uri: str, **options: Any) -> None:
        self.made.append({"uri": uri, **options})

    def __getitem__(self, name: str) -> "MongoRecorder":
        return self

    async def find_one(self, *args: Any, **kw: Any) -> None:
        return None

    async def update_one(self, *args: Any, **kw: Any) -> None:
        pass

    async def drop(self) -> None:
        pass

    async def close(self) -> None:
        pass


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Made:
    """The secured environment, and a recorder in place of every client the tools make."""
    for name, value in SECURED_ENV.items():
        monkeypatch.setenv(name, value)
    found = Made()
    kafka = kafka_recorders(found)
    targets: list[tuple[ModuleType, str, str]] = [
        (shared.kafka, "AIOKafkaAdminClient", "admin"),
        (shared.kafka, "KafkaBroker", "broker"),
        (copctl.topics, "AIOKafkaAdminClient", "admin"),
        (copctl.replay, "AIOKafkaAdminClient", "admin"),
        (copctl.replay, "AIOKafkaConsumer", "consumer"),
        (copctl.topics, "AIOKafkaConsumer", "consumer"),
        (copctl.dlq, "AIOKafkaProducer", "producer"),
        (services.notifier.rebuild, "AIOKafkaAdminClient", "admin"),
        (services.notifier.rebuild, "AIOKafkaConsumer", "consumer"),
    ]
    for module, name, kind in targets:
        monkeypatch.setattr(module, name, kafka[kind])
    mongo = type("Mongo", (MongoRecorder,), {"made": found.mongo})
    monkeypatch.setattr(shared.mongo, "AsyncMongoClient", mongo)

    class Leaderboards:
        def __init__(self, redis: Redis, namespace: str) -> None:
            found.redis.append(redis)

        async def forget(self) -> int:
            return 0

    monkeypatch.setattr(services.recognition.rebuild, "Leaderboards", Leaderboards)
    return found


# --- what a secured client is given -----------------------------------------------------------


def assert_kafka_secured(made: Made, *kinds: str) -> None:
    assert [kind for kind, _ in made.kafka] == list(kinds)
    for kind, options in made.kafka:
        assert options.get("security_protocol") == "SASL_SSL", f"{kind} without TLS and SASL"
        assert options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
            "cop-ops",
            "kafka-pw",
        )
        assert isinstance(options["ssl_context"], ssl.SSLContext)


def assert_mongo_secured(made: Made) -> None:
    assert made.mongo, "no MongoDB client was made"
    for options in made.mongo:
        assert options["uri"] == SECURED_ENV["MONGODB_URI"]
        assert (options.get("username"), options.get("password")) == ("cop", "mongo-pw")
        assert options["authSource"] == "admin"
        assert options["tls"] is True
        assert options["tlsCAFile"] == SYSTEM_CA
        assert options["w"] == "majority"


def assert_redis_secured(redis: Redis) -> None:
    pool = redis.connection_pool
    assert pool.connection_class is SSLConnection
    assert pool.connection_kwargs["username"] == "cop"
    assert pool.connection_kwargs["password"] == "redis-pw"
    assert pool.connection_kwargs["ssl_ca_certs"] == SYSTEM_CA


# --- the rebuilds (`copctl replay`) -----------------------------------------------------------


REBUILT: list[tuple[ModuleType, type[ServiceSettings]]] = [
    (events_rebuild, EventsSettings),
    (knowledge_rebuild, KnowledgeSettings),
    (recognition_rebuild, RecognitionSettings),
    (notifier_rebuild, NotifierSettings),
]


@pytest.mark.parametrize(
    ("rebuild", "settings_cls"), REBUILT, ids=["events", "knowledge", "recognition", "notifier"]
)
async def test_each_rebuild_drops_its_projection_with_the_mongodb_credentials_and_tls(
    made: Made, rebuild: ModuleType, settings_cls: type[ServiceSettings]
) -> None:
    dropped = await rebuild.prepare_rebuild(settings_cls())

    assert dropped
    assert_mongo_secured(made)


async def test_the_notifier_rebuild_reads_the_end_offsets_over_sasl_ssl(made: Made) -> None:
    await notifier_rebuild.prepare_rebuild(NotifierSettings())

    assert_kafka_secured(made, "admin", "consumer")
    assert len(made.mongo) == 2  # the replay marks, then the projection's drop


async def test_the_recognition_rebuild_forgets_the_leaderboards_over_redis_tls(
    made: Made,
) -> None:
    await recognition_rebuild.prepare_rebuild(RecognitionSettings())

    (redis,) = made.redis
    assert_redis_secured(redis)


async def test_drop_collections_connects_with_the_settings_options(made: Made) -> None:
    assert await drop_collections(ServiceSettings(), ["a", "b"], app_name="t") == ["a", "b"]

    (options,) = made.mongo
    assert options["appname"] == "t"
    assert_mongo_secured(made)


@pytest.mark.parametrize("service", sorted(REBUILDS))
async def test_copctl_replay_rewinds_and_drops_with_the_services_settings(
    made: Made, service: str
) -> None:
    done = await replay(service, REBUILDS[service].settings())

    assert done["partitions"] > 0
    # the group's state, its topics' partitions, the rewind (+ the notifier's end offsets)
    kinds = ["admin", "admin", "consumer"]
    assert_kafka_secured(made, *kinds, *(["admin", "consumer"] if service == "notifier" else []))
    assert_mongo_secured(made)


# --- copctl emit, topics, dlq -----------------------------------------------------------------


def test_operator_commands_read_the_brokers_security_from_the_services_environment(
    made: Made,
) -> None:
    security = operator_security()

    assert isinstance(security, SASLScram512)
    options = kafka_client_options(security)
    assert (options["security_protocol"], options["sasl_plain_username"]) == ("SASL_SSL", "cop-ops")


async def test_partitions_of_connects_with_the_security_given(made: Made) -> None:
    await partitions_of(BOOTSTRAP, ["cop.sessions"], security=operator_security())

    assert_kafka_secured(made, "admin")


async def test_dlq_list_and_redrive_connect_with_the_security_given(made: Made) -> None:
    security = operator_security()
    await read_dead_letters(BOOTSTRAP, "recognition", security=security)
    letter = DeadLetter(0, 0, b"k", b"{}", {"cop_original_topic": "cop.recognition"})
    assert await redrive(BOOTSTRAP, [letter], security=security) == 1

    assert_kafka_secured(made, "admin", "consumer", "producer")


async def test_emit_publishes_with_the_security_given(made: Made) -> None:
    event = new_event(
        MemberProfileUpdated(member_id="m1", name="Ann", email="ann@example.com"), source="t"
    )
    await publish(event, BOOTSTRAP, security=operator_security())

    assert_kafka_secured(made, "broker")


# The commands themselves: `copctl/cli.py` builds the security and hands it to the functions
# above.
PROFILE_FLAGS = ["-s", "member_id=m1", "-s", "name=Ann", "-s", "email=ann@example.com"]


@pytest.mark.parametrize(
    ("args", "kinds"),
    [
        (
            ["emit", "cop.member.profile_updated.v1", *PROFILE_FLAGS],
            ["broker"],
        ),
        (["topics"], ["admin"]),
        (["dlq", "list", "recognition"], ["admin", "consumer"]),
        (["dlq", "redrive", "recognition", "--all"], ["admin", "consumer", "producer"]),
    ],
    ids=["emit", "topics", "dlq-list", "dlq-redrive"],
)
def test_copctl_commands_connect_with_the_brokers_security(
    made: Made, args: list[str], kinds: list[str]
) -> None:
    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    assert_kafka_secured(made, *kinds)


# --- the notifier's rate limits ---------------------------------------------------------------


def client_of(storage: RedisStorage) -> Redis:
    """The redis-py client `limits` made for the storage."""
    bridge = storage.bridge
    assert isinstance(bridge, RedispyBridge)
    client = bridge.storage
    assert isinstance(client, Redis)
    return client


def test_the_notifier_rate_limits_count_in_redis_over_tls_with_credentials(made: Made) -> None:
    storage = rate_limit_storage(NotifierSettings())

    assert_redis_secured(client_of(storage))


def test_the_rate_limit_storage_keeps_credentials_in_the_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://cop:url-pw@redis.example:6379/2")
    storage = rate_limit_storage(NotifierSettings())

    kwargs = client_of(storage).connection_pool.connection_kwargs
    assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("cop", "url-pw", 2)
