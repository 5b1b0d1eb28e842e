"""Signing in to the pages through an OpenID Connect provider: the authorization code flow with
PKCE, against a provider in the test process that speaks the protocol over HTTP (discovery,
authorize, token, JWKS) and checks the code verifier against the challenge as RFC 7636 says."""

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from services.web.bootstrap import bootstrap
from services.web.settings import WebSettings
from tests.http_stubs import JsonHandler, serving_in_thread
from tests.integration.security.test_oidc_tokens import AUDIENCE, new_key, public_jwk

CLIENT_ID = "cop-web"
WEB = "http://127.0.0.1:8080"


@dataclass
class Provider:
    """The organisation's provider: signs `member` in at once when asked to authorize."""

    url: str = ""
    key: Any = None
    member: str = "grace"
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tamper_nonce: bool = False

    def tokens(self, grant: dict[str, str]) -> dict[str, Any]:
        now = int(time.time())
        common = {"iss": self.url, "sub": self.member, "iat": now, "exp": now + 600}
        nonce = "not-the-one-sent" if self.tamper_nonce else grant["nonce"]
        id_claims = {**common, "aud": CLIENT_ID, "nonce": nonce}
        access_claims = {**common, "aud": AUDIENCE, "scope": "openid"}
        return {
            "token_type": "Bearer",
            "expires_in": 600,
            "id_token": self.signed(id_claims),
            "access_token": self.signed(access_claims),
        }

    def signed(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def provider() -> Iterator[Provider]:
    state = Provider(key=new_key())

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/.well-known/openid-configuration":
                self.answer(200, self.discovery(), "application/json")
            elif parts.path == "/jwks":
                self.answer(200, {"keys": [public_jwk(state.key, "k1")]}, "application/json")
            elif parts.path == "/authorize":
                assert query["code_challenge_method"] == "S256"
                code = secrets.token_urlsafe(16)
                state.codes[code] = query
                target = (
                    f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
                )
                self.send_response(302)
                self.send_header("Location", target)
                self.end_headers()
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(size).decode()).items()}
            grant = state.codes.pop(form.get("code", ""), None)
            if (
                grant is None
                or form.get("grant_type") != "authorization_code"
                or form.get("redirect_uri") != grant["redirect_uri"]
                or s256(form.get("code_verifier", "")) != grant["code_challenge"]
            ):
                self.answer(400, {"error": "invalid_grant"}, "application/json")
                return
            self.answer(200, state.tokens(grant), "application/json")

        def discovery(self) -> dict[str, str]:
            return {
                "issuer": state.url,
                "authorization_endpoint": f"{state.url}/authorize",
                "token_endpoint": f"{state.url}/token",
                "jwks_uri": f"{state.url}/jwks",
            }

    with serving_in_thread(Handler) as url:
        state.url = url
        yield state


@pytest.fixture
def web(provider: Provider) -> Iterator[TestClient]:
    settings = WebSettings(
        web_oidc_issuer=provider.url,
        web_oidc_client_id=CLIENT_ID,
        web_public_url=WEB,
        web_dev_sign_in=False,
    )
    with TestClient(bootstrap(settings), base_url=WEB) as client:
        yield client


def sign_in_through(web: TestClient, next_page: str = "/review") -> httpx.Response:
    """The browser's way: the pages send it to the provider, which sends it back."""
    started = web.get("/auth/login", params={"next": next_page}, follow_redirects=False)
    assert started.status_code == 303
    authorize = httpx.get(started.headers["location"], follow_redirects=False)
    assert authorize.status_code == 302
    back = urlsplit(authorize.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == f"{WEB}/auth/callback"
    finished: httpx.Response = web.get(f"{back.path}?{back.query}", follow_redirects=False)
    return finished


def test_a_member_signs_in_with_pkce_and_the_session_carries_the_providers_token(
    web: TestClient, provider: Provider
) -> None:
    started = web.get("/auth/login", params={"next": "/review"}, follow_redirects=False)
    sent = {k: v[0] for k, v in parse_qs(urlsplit(started.headers["location"]).query).items()}
    assert sent["code_challenge_method"] == "S256"
    assert sent["client_id"] == CLIENT_ID
    assert "openid" in sent["scope"].split()
    assert sent["state"]
    assert sent["nonce"]
    pending = [c for c in started.headers.get_list("set-cookie") if c.startswith("cop_sign_in=")]
    assert pending
    assert "HttpOnly" in pending[0]
    assert "Path=/auth" in pending[0]
    web.cookies.clear()

    finished = sign_in_through(web)
    assert finished.status_code == 303, finished.text
    assert finished.headers["location"] == "/review"
    home = web.get("/sign-in")
    assert 'data-testid="viewer">grace<' in home.text
    session = web.cookies["cop_session"]
    claims = jwt.decode(session, options={"verify_signature": False})
    access = jwt.decode(claims["tok"], options={"verify_signature": False})
    assert access["aud"] == AUDIENCE, "the token the services accept goes upstream"
    assert access["iss"] == provider.url


def test_a_callback_with_another_state_signs_no_one_in(web: TestClient) -> None:
    started = web.get("/auth/login", follow_redirects=False)
    authorize = httpx.get(started.headers["location"], follow_redirects=False)
    query = parse_qs(urlsplit(authorize.headers["location"]).query)
    forged = web.get(
        "/auth/callback",
        params={"code": query["code"][0], "state": "forged"},
        follow_redirects=False,
    )
    assert forged.status_code == 400
    assert "was not started here" in forged.text
    assert "cop_session" not in web.cookies


def test_an_id_token_for_another_nonce_is_refused(web: TestClient, provider: Provider) -> None:
    provider.tamper_nonce = True
    finished = sign_in_through(web)
    assert finished.status_code == 502
    assert "the ID token is not valid" in finished.text
    assert "cop_session" not in web.cookies


def test_a_code_exchanged_without_its_verifier_is_refused_by_the_provider(
    provider: Provider,
) -> None:
    """The provider side of PKCE, so that the flow above proves the verifier was sent."""
    verifier = secrets.token_urlsafe(48)
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": f"{WEB}/auth/callback",
        "state": "s",
        "nonce": "n",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    authorize = httpx.get(f"{provider.url}/authorize", params=query, follow_redirects=False)
    code = parse_qs(urlsplit(authorize.headers["location"]).query)["code"][0]
    token = httpx.post(
        f"{provider.url}/token",
        data={"grant_type": "authorization_code", "code": code,
              "redirect_uri": query["redirect_uri"], "code_verifier": "wrong"},
    )  # fmt: skip
    assert token.status_code == 400
    assert json.loads(token.text) == {"error": "invalid_grant"}


def test_without_a_provider_the_sign_in_routes_do_not_exist() -> None:
    with TestClient(bootstrap(WebSettings()), base_url=WEB) as client:
        assert client.get("/auth/login", follow_redirects=False).status_code == 404
