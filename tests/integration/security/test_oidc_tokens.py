"""Members' tokens from an OpenID Connect issuer: a real issuer in the test process (discovery
document and JWKS over HTTP on a free port, an RSA key made for the test), a service dependency
configured by settings, and a 401 problem+json for each way a token can be wrong."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import Depends, FastAPI

from shared.auth import Caller, OidcVerifier, auth_from_settings, bearer_auth
from shared.http import install_problem_handlers
from shared.settings import ServiceSettings
from tests.http_stubs import JsonHandler, serving_in_thread
from tests.problems import problem_of

SPKI = PublicFormat.SubjectPublicKeyInfo
AUDIENCE = "cop-platform-api"


def new_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: Any, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


@dataclass
class Issuer:
    """An OpenID provider's public face: its discovery document and its key set."""

    url: str = ""
    keys: dict[str, Any] = field(default_factory=dict)  # kid -> private key
    jwks_requests: int = 0
    up: bool = True

    def sign(self, kid: str, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "sub": "ada", "iat": now, "exp": now + 600}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    state = Issuer(keys={"k1": new_key()})

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if not state.up:
                self.send_error(503)
                return
            body: dict[str, Any]
            if self.path == "/.well-known/openid-configuration":
                body = {"issuer": state.url, "jwks_uri": f"{state.url}/jwks"}
            elif self.path == "/jwks":
                state.jwks_requests += 1
                body = {"keys": [public_jwk(k, kid) for kid, k in state.keys.items()]}
            else:
                self.send_error(404)
                return
            self.answer(200, body, "application/json")

    with serving_in_thread(Handler) as url:
        state.url = url
        yield state


def app_for(settings: ServiceSettings) -> FastAPI:
    return app_with(auth_from_settings(settings))


def app_with(auth: Callable[..., Awaitable[Caller]]) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/me")
    async def me(caller: Annotated[Caller, Depends(auth)]) -> dict[str, Any]:
        return {"member_id": caller.member_id, "scopes": sorted(caller.scopes)}

    return app


def oidc_settings(issuer: Issuer, **overrides: Any) -> ServiceSettings:
    values = {"auth_oidc_issuer": issuer.url, "auth_oidc_audience": AUDIENCE, **overrides}
    return ServiceSettings(**values)


async def ask(app: FastAPI, token: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
        return await http.get("/me", headers={"Authorization": f"Bearer {token}"})


def assert_401(response: httpx.Response, detail: str) -> None:
    assert response.headers["www-authenticate"] == "Bearer"
    problem = problem_of(response, 401)
    assert problem["type"] == "urn:cop:problem:auth:unauthenticated"
    assert problem["detail"] == detail


async def test_a_token_of_the_issuer_names_the_member_and_its_scopes(issuer: Issuer) -> None:
    app = app_for(oidc_settings(issuer))
    response = await ask(app, issuer.sign("k1", scope="admin openid"))
    assert response.status_code == 200, response.text
    assert response.json() == {"member_id": "ada", "scopes": ["admin", "openid"]}
    listed = await ask(app, issuer.sign("k1", sub="grace", scp=["kudos:write"]))
    assert listed.json() == {"member_id": "grace", "scopes": ["kudos:write"]}


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}, "the token has expired"),
        ({"aud": "another-api"}, "the token is meant for another audience"),
        ({"aud": None}, "the token has no aud claim"),
        ({"iss": "https://evil.example"}, "the token is from another issuer"),
        ({"iss": None}, "the token has no iss claim"),
        ({"exp": None}, "the token has no exp claim"),
        ({"iat": None}, "the token has no iat claim"),
        ({"sub": "../admin"}, "the token's subject is not a member id"),
        (
            {"iat": int(time.time()), "exp": int(time.time()) + 2 * 24 * 3600},
            "the token lives longer than the 86400 s allowed",
        ),
        ({"nbf": int(time.time()) + 3600}, "the token is not valid"),
    ],
)
async def test_each_wrong_claim_is_refused_with_401(
    issuer: Issuer, claims: dict[str, Any], detail: str
) -> None:
    assert_401(await ask(app_for(oidc_settings(issuer)), issuer.sign("k1", **claims)), detail)


async def test_a_token_signed_by_a_key_the_issuer_does_not_publish_is_refused(
    issuer: Issuer,
) -> None:
    intruder = Issuer(url=issuer.url, keys={"k1": new_key()})  # same kid, another key
    assert_401(
        await ask(app_for(oidc_settings(issuer)), intruder.sign("k1")), "the token is not valid"
    )
    unknown_kid = Issuer(url=issuer.url, keys={"k9": new_key()})
    assert_401(
        await ask(app_for(oidc_settings(issuer)), unknown_kid.sign("k9")),
        "the token is not signed with a key of the issuer",
    )


async def test_algorithm_confusion_and_unsigned_tokens_are_refused(issuer: Issuer) -> None:
    """HS256 signed with the published public key, and `alg: none`."""
    now = int(time.time())
    claims = {"iss": issuer.url, "aud": AUDIENCE, "sub": "ada", "iat": now, "exp": now + 600}
    app = app_for(oidc_settings(issuer))
    public_pem = issuer.keys["k1"].public_key().public_bytes(Encoding.PEM, SPKI)
    # PyJWT refuses to sign so; an attacker writes the few lines themselves.
    head = _b64({"alg": "HS256", "typ": "JWT", "kid": "k1"}) + "." + _b64(claims)
    mac = hmac.new(public_pem, head.encode(), hashlib.sha256).digest()
    forged = head + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert_401(await ask(app, forged), "the token is not valid")
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"kid": "k1"})
    assert_401(await ask(app, unsigned), "the token is not valid")


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


async def test_tokens_signed_with_the_shared_secret_are_refused_in_oidc_mode(
    issuer: Issuer,
) -> None:
    from shared.auth import issue_token

    settings = oidc_settings(issuer)
    local = issue_token(settings.auth_token_secret, "ada", scopes=("admin",))
    assert_401(
        await ask(app_for(settings), local), "the token is not signed with a key of the issuer"
    )


async def test_a_rotated_key_is_fetched_when_a_token_names_it(issuer: Issuer) -> None:
    verifier = OidcVerifier(issuer.url, AUDIENCE, refetch_cooldown_s=0)
    app = app_with(bearer_auth(verifier.verify))
    assert (await ask(app, issuer.sign("k1"))).status_code == 200
    fetched = issuer.jwks_requests
    issuer.keys["k2"] = new_key()  # the provider rotates: a new key, published
    assert (await ask(app, issuer.sign("k2"))).status_code == 200
    assert issuer.jwks_requests == fetched + 1


async def test_made_up_key_ids_do_not_make_the_service_fetch_the_keys_again(
    issuer: Issuer,
) -> None:
    app = app_for(oidc_settings(issuer))
    assert (await ask(app, issuer.sign("k1"))).status_code == 200
    fetched = issuer.jwks_requests
    for n in range(5):
        stranger = Issuer(url=issuer.url, keys={f"made-up-{n}": new_key()})
        assert (await ask(app, stranger.sign(f"made-up-{n}"))).status_code == 401
    assert issuer.jwks_requests <= fetched + 1


async def test_an_explicit_jwks_url_skips_discovery(issuer: Issuer) -> None:
    settings = oidc_settings(issuer, auth_oidc_jwks_url=f"{issuer.url}/jwks")
    assert (await ask(app_for(settings), issuer.sign("k1"))).status_code == 200


async def test_a_discovery_document_naming_another_issuer_is_not_trusted(issuer: Issuer) -> None:
    # The configured issuer URL differs from what its discovery document says (a trailing
    # path): OpenID Connect Discovery requires them to be equal.
    settings = oidc_settings(issuer, auth_oidc_issuer=issuer.url + "/")
    response = await ask(app_for(settings), issuer.sign("k1", iss=issuer.url + "/"))
    assert response.status_code == 503
    assert response.json()["type"] == "urn:cop:problem:auth:issuer-unavailable"


async def test_an_issuer_that_cannot_be_reached_is_503_not_401_or_500(issuer: Issuer) -> None:
    issuer.up = False
    response = await ask(app_for(oidc_settings(issuer)), issuer.sign("k1"))
    problem_of(response, 503)
    assert response.headers["retry-after"] == "5"
    issuer.up = True  # it comes back: the next request is checked
    assert (await ask(app_for(oidc_settings(issuer)), issuer.sign("k1"))).status_code == 200


async def test_a_member_claim_other_than_sub(issuer: Issuer) -> None:
    settings = oidc_settings(issuer, auth_oidc_member_claim="preferred_username")
    token = issuer.sign("k1", sub=str(uuid.uuid4()), preferred_username="grace")
    assert (await ask(app_for(settings), token)).json()["member_id"] == "grace"
