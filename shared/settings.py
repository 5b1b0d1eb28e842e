"""Settings every service reads from the environment, with working local defaults (the list:
docs/operations.md#settings)."""

import ipaddress
from typing import Any, Literal

from jwt.algorithms import has_crypto
from pydantic import Field, SecretStr, model_validator
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
    # TLS and SASL towards the brokers (docs/reliability.md, "Connections"). The CA, client
    # certificate and key are PEM files; without a CA file the system's CAs are trusted.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""
    kafka_ssl_check_hostname: bool = True

    # Credentials and TLS may be in the URI (`mongodb://user:pass@host/?tls=true`) or in the
    # settings below, which win over the URI when set.
    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    mongodb_database: str = "cop"
    mongodb_username: str = ""
    mongodb_password: SecretStr = SecretStr("")
    mongodb_auth_source: str = ""
    mongodb_tls: bool | None = None  # None: as the URI says
    mongodb_tls_ca_file: str = ""
    mongodb_tls_certificate_key_file: str = ""
    # Write concern: `majority` (with journal=true) on a replica set, so that an acknowledged
    # write survives the loss of the primary; a number of members; empty: the server's default.
    mongodb_write_concern: str = Field("", pattern=r"^(|majority|[0-9]{1,2})$")
    mongodb_journal: bool | None = None
    mongodb_write_timeout_ms: int = Field(0, ge=0)

    # `rediss://` in the URL turns TLS on; user and password may be in it too.
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_username: str = ""
    redis_password: SecretStr = SecretStr("")
    redis_ssl_ca_certs: str = ""
    redis_ssl_certfile: str = ""
    redis_ssl_keyfile: str = ""
    redis_socket_timeout_s: float = 5.0
    """A Redis that stops answering is an outage after this long (consumers rewind and retry,
    `/ingest` answers 503), not a wait without end."""

    # Request bodies larger than this are refused with 413 before they are read whole
    # (`shared.body_limit`); the inbound gateway keeps its own, larger limit.
    http_max_body_bytes: int = Field(1_048_576, ge=1024)
    # How long the first answer to a command sent with `Idempotency-Key` is kept and given
    # again to its repeats (`shared.idempotency`).
    idempotency_ttl_s: int = Field(24 * 3600, ge=60, le=30 * 24 * 3600)

    # Signs and checks members' bearer tokens (HS256). Outside local use the public default is
    # refused: set a long random value (e.g. `openssl rand -hex 32`).
    auth_token_secret: str = Field(LOCAL_AUTH_TOKEN_SECRET, min_length=32)
    # When set, HS256 tokens must carry this audience (`aud`).
    auth_token_audience: str = ""
    # Tokens whose lifetime (exp - iat) is longer are refused; none is issued longer.
    auth_token_max_lifetime_s: int = Field(24 * 3600, ge=60, le=30 * 24 * 3600)
    # Members' tokens from an OpenID Connect provider instead of the shared secret: its issuer
    # URL (its discovery document names the JWKS) and the audience its tokens must carry.
    auth_oidc_issuer: str = Field("", pattern=r"^(|https?://\S+)$")
    auth_oidc_audience: str = ""
    auth_oidc_jwks_url: str = Field("", pattern=r"^(|https?://\S+)$")
    auth_oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256"], min_length=1)
    auth_oidc_member_claim: str = Field("sub", min_length=1)

    consumer_max_retries: int = Field(3, ge=0)
    consumer_retry_backoff_ms: int = Field(200, ge=0)

    log_level: str = "INFO"

    @property
    def is_local(self) -> bool:
        if self.cop_env:
            return self.cop_env == "local"
        return is_loopback(self.http_host)

    def redis_options(self) -> dict[str, Any]:
        """Keyword arguments for `Redis.from_url(settings.redis_url, ...)` beyond the URL."""
        options: dict[str, Any] = {
            "socket_timeout": self.redis_socket_timeout_s,
            "socket_connect_timeout": self.redis_socket_timeout_s,
        }
        if self.redis_username:
            options["username"] = self.redis_username
        if self.redis_password.get_secret_value():
            options["password"] = self.redis_password.get_secret_value()
        for name in ("redis_ssl_ca_certs", "redis_ssl_certfile", "redis_ssl_keyfile"):
            if value := getattr(self, name):
                options[name.removeprefix("redis_")] = value
        return options

    @model_validator(mode="after")
    def _consistent_connections(self) -> "ServiceSettings":
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if (self.redis_ssl_ca_certs or self.redis_ssl_certfile) and not self.redis_url.startswith(
            "rediss://"
        ):
            raise ValueError("REDIS_SSL_* files need a TLS URL: REDIS_URL=rediss://...")
        return self

    @model_validator(mode="after")
    def _oidc_is_complete(self) -> "ServiceSettings":
        if not self.auth_oidc_issuer:
            return self
        if not self.auth_oidc_audience:
            raise ValueError("AUTH_OIDC_ISSUER needs AUTH_OIDC_AUDIENCE: the tokens' audience")
        symmetric = [
            a for a in self.auth_oidc_algorithms if a.upper().startswith("HS") or a == "none"
        ]
        if symmetric:
            raise ValueError(f"AUTH_OIDC_ALGORITHMS must be public-key algorithms, not {symmetric}")
        if not has_crypto:
            raise ValueError(
                "AUTH_OIDC_ISSUER needs PyJWT's public-key algorithms: install `cryptography`"
            )
        return self

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
