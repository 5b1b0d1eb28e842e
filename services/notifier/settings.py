import ipaddress
from typing import Annotated, Literal

from pydantic import Field, HttpUrl, field_validator, model_validator

from shared.settings import ServiceSettings

LOCAL_CHAT_WEBHOOK_SECRET = "local-dev-secret"


class NotifierSettings(ServiceSettings):
    service_name: str = "notifier"
    http_port: int = Field(8084, ge=1, le=65535)
    mongodb_database: str = "cop_notifier"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = Field(10.0, gt=0)
    mail_from: str = "CoP Platform <cop@localhost>"

    chat_webhook_url: str | None = "http://127.0.0.1:8090/hooks/cop"
    chat_webhook_kind: str = Field("webhook", pattern="^(webhook|slack|teams|mattermost)$")
    chat_webhook_secret: str = LOCAL_CHAT_WEBHOOK_SECRET
    chat_allowed_hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1", "localhost"])
    # Networks (CIDR) a webhook host may resolve to although they are not public, e.g. an
    # in-cluster receiver. Unset: loopback in local use (the chat sink), none elsewhere.
    chat_allowed_networks: list[str] | None = None
    chat_timeout_s: float = Field(10.0, gt=0)
    # Platform -> an incoming webhook of that workspace that takes a `channel` override: a chat
    # channel mapped to a community without channels becomes its channel, posted through it.
    # Only Slack and Mattermost webhooks take the override.
    notifier_chat_webhook_urls: dict[Literal["slack", "mattermost"], HttpUrl] = Field(
        default_factory=dict
    )

    notifier_url: str = Field("http://127.0.0.1:8084", description="links in e-mails")
    events_url: str = "http://127.0.0.1:8081"
    knowledge_url: str = "http://127.0.0.1:8082"
    recognition_url: str = "http://127.0.0.1:8083"

    # Hours before a session; at most four weeks, so that a reminder of any accepted time
    # exists on the calendar.
    reminder_offsets_h: list[Annotated[int, Field(ge=1, le=4 * 7 * 24)]] = Field(
        default_factory=lambda: [24, 1], max_length=10
    )
    delivery_max_attempts: int = Field(5, ge=1, le=20)
    delivery_retry_base_s: float = Field(2.0, gt=0)
    delivery_retry_max_s: float = Field(300.0, gt=0)
    # How long a claimed delivery is another replica's: after a crash, what was in flight is
    # sent again once its lease expires. Longer than a wave of sends takes (the SMTP and chat
    # time-outs are 10 s).
    delivery_lease_s: int = Field(60, ge=10)
    dispatch_interval_s: float = Field(0.5, gt=0)
    chat_rate: str = Field("1/second", description="posts per webhook (Slack allows about 1/s)")
    email_rate: str = Field("20/second", description="messages to the SMTP relay")

    @field_validator("chat_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str] | None) -> list[str] | None:
        for cidr in value or []:
            ipaddress.ip_network(cidr, strict=False)  # a ValueError names the wrong one
        return value

    @property
    def effective_chat_allowed_networks(self) -> list[str]:
        if self.chat_allowed_networks is not None:
            return self.chat_allowed_networks
        return ["127.0.0.0/8", "::1/128"] if self.is_local else []

    @model_validator(mode="after")
    def _no_public_webhook_secret_outside_local_use(self) -> "NotifierSettings":
        signed = self.chat_webhook_url and self.chat_webhook_kind == "webhook"
        if signed and self.chat_webhook_secret == LOCAL_CHAT_WEBHOOK_SECRET and not self.is_local:
            raise ValueError(
                "CHAT_WEBHOOK_SECRET is the public local default, refused outside local use: "
                "receivers could not tell our signed posts from anyone's"
            )
        return self
