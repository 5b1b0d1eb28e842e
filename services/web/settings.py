from pydantic import Field, SecretStr, model_validator

from shared.settings import ServiceSettings


class WebSettings(ServiceSettings):
    """The web edge's settings: the pages and the chat commands. It reads and acts through the
    other services' HTTP APIs only: no database and no Kafka consumer of its own (those
    inherited settings are not used); Redis only remembers signed chat requests already seen."""

    service_name: str = "web"
    http_port: int = Field(8080, ge=1, le=65535)

    events_url: str = Field("http://127.0.0.1:8081", pattern=r"^https?://\S+$")
    knowledge_url: str = Field("http://127.0.0.1:8082", pattern=r"^https?://\S+$")
    recognition_url: str = Field("http://127.0.0.1:8083", pattern=r"^https?://\S+$")
    notifier_url: str = Field("http://127.0.0.1:8084", pattern=r"^https?://\S+$")
    impact_url: str = Field("http://127.0.0.1:8085", pattern=r"^https?://\S+$")
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

    web_slack_signing_secret: SecretStr = Field(
        SecretStr(""), description="the Slack app's signing secret; empty: no Slack commands"
    )
    web_mattermost_tokens: str = Field(
        "", description="the Mattermost slash commands' tokens, comma-separated; empty: none"
    )
    web_teams_secret: SecretStr = Field(
        SecretStr(""),
        description="the Teams outgoing webhook's security token (base64); empty: no Teams",
    )
    web_chat_answer_within_s: float = Field(
        2.5,
        ge=0,
        le=2.8,
        description="Slack and Mattermost give up after 3 s: an answer not ready by then is "
        "acknowledged and posted to the request's response_url when it is",
    )
    web_chat_response_hosts: str = Field(
        "hooks.slack.com",
        description="hosts a slow chat answer may be posted to (a request's response_url), "
        "comma-separated: Slack's, and your Mattermost server's",
    )

    @property
    def oidc_redirect_uri(self) -> str:
        return self.web_public_url.rstrip("/") + "/auth/callback"

    @property
    def dev_sign_in(self) -> bool:
        return self.is_local if self.web_dev_sign_in is None else self.web_dev_sign_in

    @property
    def chat_response_hosts(self) -> frozenset[str]:
        return frozenset(h.strip() for h in self.web_chat_response_hosts.split(",") if h.strip())

    @property
    def mattermost_tokens(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.web_mattermost_tokens.split(",") if t.strip())

    def upstream_urls(self) -> dict[str, str]:
        return {
            "events": self.events_url,
            "knowledge": self.knowledge_url,
            "recognition": self.recognition_url,
            "notifier": self.notifier_url,
            "impact": self.impact_url,
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
