from pydantic import Field

from shared.settings import ServiceSettings


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
    chat_webhook_secret: str = "local-dev-secret"
    chat_allowed_hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1", "localhost"])
    chat_timeout_s: float = Field(10.0, gt=0)

    platform_url: str = "http://127.0.0.1:8083"
