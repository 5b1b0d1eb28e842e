"""Settings every service reads from the environment, with working local defaults (DESIGN §4)."""

import ipaddress

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Public (it is in this repository): signs tokens for local use only.
LOCAL_AUTH_TOKEN_SECRET = "local-dev-token-secret-change-me"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServiceSettings(BaseSettings):
    """Infrastructure a service talks to. Each service subclasses it with its own defaults.

    Every field is read from the upper-cased environment variable of the same name,
    e.g. `KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`, `REDIS_URL`, `HTTP_PORT`.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "cop"
    # `local` or the name of a shared environment (`staging`, `production`, ...). Unset, a
    # service is local only while it listens on a loopback address (`make up`, the tests):
    # one that others can reach (HTTP_HOST=0.0.0.0 in compose and k8s) is not.
    cop_env: str = Field("", pattern=r"^[a-z0-9_-]*$", max_length=32)
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

    # Signs and checks members' bearer tokens (HS256). Outside local use the public default is
    # refused: set a long random value (e.g. `openssl rand -hex 32`).
    auth_token_secret: str = Field(LOCAL_AUTH_TOKEN_SECRET, min_length=32)
    # Tokens whose lifetime (exp - iat) is longer are refused; none is issued longer.
    auth_token_max_lifetime_s: int = Field(24 * 3600, ge=60, le=30 * 24 * 3600)

    consumer_max_retries: int = Field(3, ge=0)
    consumer_retry_backoff_ms: int = Field(200, ge=0)

    log_level: str = "INFO"

    @property
    def is_local(self) -> bool:
        if self.cop_env:
            return self.cop_env == "local"
        return is_loopback(self.http_host)

    @model_validator(mode="after")
    def _no_public_secret_outside_local_use(self) -> "ServiceSettings":
        if self.auth_token_secret == LOCAL_AUTH_TOKEN_SECRET and not self.is_local:
            where = f"COP_ENV={self.cop_env}" if self.cop_env else f"HTTP_HOST={self.http_host}"
            raise ValueError(
                f"AUTH_TOKEN_SECRET is the public local default, refused outside local use "
                f"({where}): set it to a long random value (e.g. `openssl rand -hex 32`), "
                "or COP_ENV=local for a local try-out"
            )
        return self
