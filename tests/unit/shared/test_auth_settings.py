"""The public default token secret is refused outside local use; local use needs no settings."""

import pytest
from pydantic import ValidationError

from services.events.settings import EventsSettings
from services.knowledge.settings import KnowledgeSettings
from shared.settings import LOCAL_AUTH_TOKEN_SECRET, ServiceSettings, is_loopback

OWN_SECRET = "a-long-random-value-from-openssl-rand-hex-32"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COP_ENV", "HTTP_HOST", "AUTH_TOKEN_SECRET", "AUTH_TOKEN_MAX_LIFETIME_S"):
        monkeypatch.delenv(name, raising=False)


def test_without_any_setting_a_service_is_local_and_takes_the_default_secret() -> None:
    settings = EventsSettings()
    assert settings.is_local
    assert settings.auth_token_secret == LOCAL_AUTH_TOKEN_SECRET
    assert settings.auth_token_max_lifetime_s == 24 * 3600


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "events.cop.svc"])
def test_a_service_others_can_reach_refuses_the_default_secret(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_HOST", host)
    with pytest.raises(ValidationError, match="AUTH_TOKEN_SECRET is the public local default"):
        EventsSettings()
    monkeypatch.setenv("AUTH_TOKEN_SECRET", OWN_SECRET)
    assert not EventsSettings().is_local


@pytest.mark.parametrize("env", ["production", "staging"])
def test_a_shared_environment_refuses_the_default_secret_even_on_loopback(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COP_ENV", env)
    with pytest.raises(ValidationError, match=f"COP_ENV={env}"):
        KnowledgeSettings()
    monkeypatch.setenv("AUTH_TOKEN_SECRET", OWN_SECRET)
    assert KnowledgeSettings().auth_token_secret == OWN_SECRET


def test_cop_env_local_allows_the_default_secret_on_any_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COP_ENV", "local")
    monkeypatch.setenv("HTTP_HOST", "0.0.0.0")
    assert EventsSettings().is_local


def test_the_service_refuses_to_start_with_the_default_secret_outside_local_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.events import main

    monkeypatch.setenv("COP_ENV", "production")
    started: list[object] = []
    monkeypatch.setattr("services.events.main.serve", lambda *args: started.append(args))
    with pytest.raises(ValidationError):
        main.run()
    assert started == []


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True),
    ("::1", True), ("localhost", True), ("0.0.0.0", False), ("example.com", False)])  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_maximum_token_lifetime_is_configurable_within_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_TOKEN_MAX_LIFETIME_S", "3600")
    assert ServiceSettings().auth_token_max_lifetime_s == 3600
    monkeypatch.setenv("AUTH_TOKEN_MAX_LIFETIME_S", "10")
    with pytest.raises(ValidationError):
        ServiceSettings()
