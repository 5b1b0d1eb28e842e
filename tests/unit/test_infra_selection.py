"""How the test fixtures choose their infrastructure (no server is started here)."""

import pytest

from tests.infra import provide_infra


def test_infrastructure_given_by_the_environment_is_used_as_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9092")
    monkeypatch.setenv("MONGODB_URI", "mongodb://mongo.example:27017")
    monkeypatch.setenv("REDIS_URL", "redis://redis.example:6379/0")
    with provide_infra() as infra:
        assert infra.origin == "given by the environment"
        assert infra.env() == {
            "KAFKA_BOOTSTRAP_SERVERS": "kafka.example:9092",
            "MONGODB_URI": "mongodb://mongo.example:27017",
            "REDIS_URL": "redis://redis.example:6379/0",
        }


def test_the_container_fallback_imports_the_testcontainers_modules_it_needs() -> None:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.mongodb import MongoDbContainer
    from testcontainers.community.redis import RedisContainer

    assert hasattr(KafkaContainer, "with_kraft")
    assert hasattr(KafkaContainer, "get_bootstrap_server")
    assert hasattr(MongoDbContainer, "get_connection_url")
    assert hasattr(RedisContainer, "get_exposed_port")
