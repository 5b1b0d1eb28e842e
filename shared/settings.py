"""Settings every service reads from the environment, with working local defaults (DESIGN §4)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Infrastructure a service talks to. Each service subclasses it with its own defaults.

    Every field is read from the upper-cased environment variable of the same name,
    e.g. `KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`, `REDIS_URL`, `HTTP_PORT`.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "cop"
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_partitions: int = Field(6, ge=1)
    kafka_replication_factor: int = Field(1, ge=1)
    kafka_topic_prefix: str = Field("", pattern=r"^[A-Za-z0-9._-]*$")
    kafka_consumer_group: str = ""  # empty: cop-<service_name>

    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    mongodb_database: str = "cop"

    redis_url: str = "redis://127.0.0.1:6379/0"

    # Signs and checks members' bearer tokens (HS256). Set a long random value outside local use.
    auth_token_secret: str = Field("local-dev-token-secret-change-me", min_length=32)

    consumer_max_retries: int = Field(3, ge=0)
    consumer_retry_backoff_ms: int = Field(200, ge=0)

    log_level: str = "INFO"
