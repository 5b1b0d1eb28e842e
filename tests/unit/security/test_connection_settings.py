"""TLS, SASL, credentials and write concern for Kafka, MongoDB and Redis pass from the environment
into the clients."""

import functools
import ssl
from pathlib import Path

import pytest
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram512
from pymongo.write_concern import WriteConcern
from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection

from shared.kafka import kafka_client_options, kafka_security, make_broker
from shared.mongo import make_client, mongo_options
from shared.settings import ServiceSettings

# Any PEM CA bundle will do to build a context: the system's own, as Python finds it.
SYSTEM_CA = ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile


def from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> ServiceSettings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return ServiceSettings()


def test_by_default_kafka_is_plaintext_and_nothing_is_added(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = from_env(monkeypatch)
    assert kafka_security(settings) is None
    assert kafka_client_options(None) == {}
    assert mongo_options(settings) == {}
    # no credentials or TLS; only the timeouts that make a silent Redis an outage
    assert settings.redis_options() == {"socket_timeout": 5.0, "socket_connect_timeout": 5.0}


def test_kafka_sasl_scram_over_tls_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Path(SYSTEM_CA).exists()
    settings = from_env(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        KAFKA_SASL_USERNAME="cop-events",
        KAFKA_SASL_PASSWORD="s3cret",
        KAFKA_SSL_CAFILE=SYSTEM_CA,
    )
    security = kafka_security(settings)
    assert isinstance(security, SASLScram512)
    options = kafka_client_options(security)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "cop-events",
        "s3cret",
    )
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert "s3cret" not in repr(settings)  # a secret is not printed with the settings


def test_the_broker_takes_the_security(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        KAFKA_SASL_USERNAME="u",
        KAFKA_SASL_PASSWORD="p",
    )
    security = kafka_security(settings)
    assert isinstance(security, SASLPlaintext)
    broker = make_broker("127.0.0.1:9092", client_id="t", security=security)
    builder = broker.config.broker_config.builder
    assert isinstance(builder, functools.partial)
    connection = builder.keywords  # what aiokafka is given
    assert connection["security_protocol"] == "SASL_PLAINTEXT"
    assert connection["sasl_mechanism"] == "PLAIN"
    assert connection["sasl_plain_username"] == "u"


def test_kafka_tls_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(monkeypatch, KAFKA_SECURITY_PROTOCOL="SSL")
    security = kafka_security(settings)
    assert type(security) is BaseSecurity
    assert kafka_client_options(security)["security_protocol"] == "SSL"


def test_sasl_without_credentials_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        from_env(monkeypatch, KAFKA_SECURITY_PROTOCOL="SASL_SSL")


def test_mongodb_credentials_tls_and_majority_journaled_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = from_env(
        monkeypatch,
        MONGODB_URI="mongodb://db1.example,db2.example/?replicaSet=rs0",
        MONGODB_USERNAME="cop",
        MONGODB_PASSWORD="pw",
        MONGODB_AUTH_SOURCE="admin",
        MONGODB_TLS="true",
        MONGODB_TLS_CA_FILE=SYSTEM_CA,
        MONGODB_WRITE_CONCERN="majority",
        MONGODB_JOURNAL="true",
        MONGODB_WRITE_TIMEOUT_MS="5000",
    )
    # never connected (nothing to close): the client only holds the options
    client = make_client(settings.mongodb_uri, app_name="t", **mongo_options(settings))
    assert client.write_concern == WriteConcern(w="majority", j=True, wtimeout=5000)
    assert client[settings.mongodb_database]["x"].write_concern.document == {
        "w": "majority",
        "j": True,
        "wtimeout": 5000,
    }
    credentials = client.options.pool_options._credentials
    assert credentials is not None
    assert (credentials.username, credentials.source) == ("cop", "admin")
    assert client.options.pool_options._ssl_context is not None


def test_a_numeric_write_concern(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(monkeypatch, MONGODB_WRITE_CONCERN="2")
    assert mongo_options(settings) == {"w": 2}


def test_a_wrong_write_concern_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="mongodb_write_concern"):
        from_env(monkeypatch, MONGODB_WRITE_CONCERN="everyone")


def test_redis_tls_and_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(
        monkeypatch,
        REDIS_URL="rediss://redis.example:6380/0",
        REDIS_USERNAME="cop",
        REDIS_PASSWORD="pw",
        REDIS_SSL_CA_CERTS=SYSTEM_CA,
    )
    redis = Redis.from_url(settings.redis_url, **settings.redis_options())
    pool = redis.connection_pool
    assert pool.connection_class is SSLConnection
    assert pool.connection_kwargs["username"] == "cop"
    assert pool.connection_kwargs["password"] == "pw"
    assert pool.connection_kwargs["ssl_ca_certs"] == SYSTEM_CA


def test_redis_tls_files_without_a_tls_url_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="rediss://"):
        from_env(monkeypatch, REDIS_SSL_CA_CERTS=SYSTEM_CA)
