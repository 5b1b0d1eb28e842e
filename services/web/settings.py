from pydantic import Field, model_validator

from shared.settings import ServiceSettings


class WebSettings(ServiceSettings):
    """The web pages' settings. The web service reads the other services' HTTP APIs only: it
    has no database, no Redis and no Kafka consumer of its own (the inherited connection
    settings are not used)."""

    service_name: str = "web"
    http_port: int = Field(8080, ge=1, le=65535)

    events_url: str = Field("http://127.0.0.1:8081", pattern=r"^https?://\S+$")
    knowledge_url: str = Field("http://127.0.0.1:8082", pattern=r"^https?://\S+$")
    recognition_url: str = Field("http://127.0.0.1:8083", pattern=r"^https?://\S+$")
    notifier_url: str = Field("http://127.0.0.1:8084", pattern=r"^https?://\S+$")
    web_upstream_timeout_s: float = Field(
        3.0, gt=0, le=30, description="a service slower than this is shown as not answering"
    )
    web_dev_sign_in: bool | None = Field(
        None,
        description="sign in by picking a member id; unset: on for local use only, and refused "
        "outside it",
    )
    web_session_ttl_s: int = Field(8 * 3600, ge=60, le=24 * 3600)
    web_public_url: str = Field(
        "http://127.0.0.1:8080",
        pattern=r"^https?://\S+$",
        description="where members reach these pages: the sign-in provider sends them back here",
    )
    web_oidc_issuer: str = Field(
        "",
        pattern=r"^(|https?://\S+)$",
        description="the organisation's OpenID Connect provider: members sign in there",
    )
    web_oidc_client_id: str = ""
    web_oidc_client_secret: str = Field("", description="empty for a public client (PKCE only)")
    web_oidc_scopes: str = "openid profile email"

    @property
    def oidc_redirect_uri(self) -> str:
        return self.web_public_url.rstrip("/") + "/auth/callback"

    @property
    def dev_sign_in(self) -> bool:
        return self.is_local if self.web_dev_sign_in is None else self.web_dev_sign_in

    def upstream_urls(self) -> dict[str, str]:
        return {
            "events": self.events_url,
            "knowledge": self.knowledge_url,
            "recognition": self.recognition_url,
            "notifier": self.notifier_url,
        }

    @model_validator(mode="after")
    def _oidc_names_its_client(self) -> "WebSettings":
        if self.web_oidc_issuer and not self.web_oidc_client_id:
            raise ValueError("WEB_OIDC_ISSUER needs WEB_OIDC_CLIENT_ID: this site's client id")
        return self

    @model_validator(mode="after")
    def _dev_sign_in_only_for_local_use(self) -> "WebSettings":
        if self.web_dev_sign_in and not self.is_local:
            raise ValueError(
                "WEB_DEV_SIGN_IN lets anyone act as any member: refused outside local use "
                "(COP_ENV=local, or a loopback HTTP_HOST)"
            )
        return self
