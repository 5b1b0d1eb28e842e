"""Which tokens the settings ask for: the shared secret (HS256) with an optional audience, or an
OpenID Connect issuer, and the settings refused at start."""

import time
from typing import Any

import jwt
import pytest

from shared.auth import ISSUER, OidcVerifier, auth_from_settings, issue_token, verify
from shared.http import Problem
from shared.settings import ServiceSettings

SECRET = "a-test-secret-of-at-least-32-characters"


def refused(token: str, **options: Any) -> str:
    with pytest.raises(Problem) as caught:
        verify(SECRET, token, **options)
    assert caught.value.status == 401
    return caught.value.detail


def test_an_audience_when_configured_must_be_the_tokens() -> None:
    assert verify(SECRET, issue_token(SECRET, "ann", audience="cop"), audience="cop")
    assert refused(issue_token(SECRET, "ann"), audience="cop") == "the token has no aud claim"
    assert (
        refused(issue_token(SECRET, "ann", audience="payroll"), audience="cop")
        == "the token is meant for another audience"
    )


def test_the_issuer_is_checked_and_required() -> None:
    now = int(time.time())
    claims = {"sub": "ann", "iat": now, "exp": now + 60}
    assert refused(jwt.encode({**claims, "iss": "elsewhere"}, SECRET)) == (
        "the token is from another issuer"
    )
    assert refused(jwt.encode(claims, SECRET)) == "the token has no iss claim"
    assert verify(SECRET, jwt.encode({**claims, "iss": ISSUER}, SECRET)).member_id == "ann"


def test_an_unsigned_token_is_refused() -> None:
    now = int(time.time())
    token = jwt.encode({"sub": "ann", "iss": ISSUER, "iat": now, "exp": now + 60}, "", "none")
    assert refused(token) == "the token is not valid"


async def test_the_settings_choose_the_shared_secret_with_its_audience(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_TOKEN_SECRET", SECRET)
    monkeypatch.setenv("AUTH_TOKEN_AUDIENCE", "cop")
    authenticate = auth_from_settings(ServiceSettings())
    caller = await authenticate(f"Bearer {issue_token(SECRET, 'ann', audience='cop')}")
    assert caller.member_id == "ann"
    with pytest.raises(Problem) as caught:
        await authenticate(f"Bearer {issue_token(SECRET, 'ann')}")
    assert caught.value.status == 401


def test_an_oidc_issuer_without_an_audience_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="AUTH_OIDC_AUDIENCE"):
        ServiceSettings(auth_oidc_issuer="https://login.example.com")


@pytest.mark.parametrize("algorithm", ["HS256", "none"])
def test_symmetric_or_no_algorithms_for_a_jwks_are_refused(algorithm: str) -> None:
    with pytest.raises(ValueError, match="public-key algorithms"):
        ServiceSettings(
            auth_oidc_issuer="https://login.example.com",
            auth_oidc_audience="cop",
            auth_oidc_algorithms=[algorithm],
        )
    with pytest.raises(ValueError, match="public-key algorithm"):
        OidcVerifier("https://login.example.com", "cop", algorithms=[algorithm])


def test_an_oidc_issuer_is_a_url() -> None:
    with pytest.raises(ValueError, match="auth_oidc_issuer"):
        ServiceSettings(auth_oidc_issuer="login.example.com", auth_oidc_audience="cop")


def test_without_pyjwt_crypto_an_oidc_issuer_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shared.settings

    monkeypatch.setattr(shared.settings, "has_crypto", False)
    with pytest.raises(ValueError, match="cryptography"):
        ServiceSettings(auth_oidc_issuer="https://login.example.com", auth_oidc_audience="cop")
