"""Signing in with the organisation's OpenID Connect provider: the authorization code flow with
PKCE (RFC 7636, S256), a `state` against cross-site requests and a `nonce` bound to the ID token.

The provider is found through its discovery document. The ID token is checked against the keys
its JWKS publishes (issuer, audience = this client, nonce, expiry) and names the member (the
claim the services read, `AUTH_OIDC_MEMBER_CLAIM`); the access token is what the pages then send
to the services on the member's behalf, which check it themselves against the same issuer.
PKCE's helpers come from Authlib, the JOSE checks from joserfc.
"""

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from shared.auth import is_member_id

DISCOVERY = "/.well-known/openid-configuration"
PROVIDER_TTL_S = 3600.0  # discovery and keys are read again after this


class SignInRefused(Exception):
    """The provider's answer cannot sign anyone in; the message is safe to show."""


@dataclass(frozen=True)
class Pending:
    """What the callback needs to finish a sign-in: kept in a signed cookie meanwhile."""

    state: str
    nonce: str
    verifier: str
    next: str


@dataclass(frozen=True)
class SignedIn:
    member_id: str
    access_token: str
    expires_at: int


@dataclass(frozen=True)
class _Provider:
    authorization_endpoint: str
    token_endpoint: str
    keys: KeySet
    read_at: float


class OidcClient:
    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        scopes: str,
        member_claim: str,
        algorithms: list[str],
        http: httpx.AsyncClient,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self._client_id, self._client_secret = client_id, client_secret
        self._redirect_uri, self._scopes = redirect_uri, scopes
        self._member_claim, self._algorithms = member_claim, algorithms
        self._http = http
        self._provider: _Provider | None = None

    async def start(self, next_path: str) -> tuple[str, Pending]:
        """The provider's authorization URL to send the browser to, and what to keep."""
        provider = await self._discovered()
        pending = Pending(generate_token(32), generate_token(32), generate_token(64), next_path)
        query = {
            "response_type": "code",
            "client_id": self._client_id,
            "redirect_uri": self._redirect_uri,
            "scope": self._scopes,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": create_s256_code_challenge(pending.verifier),
            "code_challenge_method": "S256",
        }
        return f"{provider.authorization_endpoint}?{urlencode(query)}", pending

    async def finish(self, pending: Pending, code: str) -> SignedIn:
        """Exchange the code (with the PKCE verifier) and check the ID token."""
        provider = await self._discovered()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self._redirect_uri,
            "client_id": self._client_id,
            "code_verifier": pending.verifier,
        }
        try:
            if self._client_secret:  # a confidential client: HTTP Basic, as RFC 6749 prefers
                secret = httpx.BasicAuth(self._client_id, self._client_secret)
                answer = await self._http.post(provider.token_endpoint, data=form, auth=secret)
            else:
                answer = await self._http.post(provider.token_endpoint, data=form)
        except httpx.HTTPError as e:
            raise SignInRefused("the sign-in provider is not answering") from e
        if answer.status_code != 200:
            raise SignInRefused(f"the sign-in provider refused the code ({answer.status_code})")
        tokens: dict[str, Any] = answer.json()
        access, id_token = tokens.get("access_token"), tokens.get("id_token")
        if not isinstance(access, str) or not isinstance(id_token, str):
            raise SignInRefused("the sign-in provider gave no ID token or access token")
        claims = self._checked(id_token, provider.keys, pending.nonce)
        member = claims.get(self._member_claim)
        if not isinstance(member, str) or not is_member_id(member):
            raise SignInRefused(f"the ID token's {self._member_claim!r} is not a member id")
        expires_in = tokens.get("expires_in")
        lifetime = int(expires_in) if isinstance(expires_in, int | float) else 3600
        return SignedIn(member, access, int(time.time()) + lifetime)

    def _checked(self, id_token: str, keys: KeySet, nonce: str) -> dict[str, Any]:
        try:
            token = jwt.decode(id_token, keys, algorithms=self._algorithms)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self._client_id},
                nonce={"essential": True, "value": nonce},
                exp={"essential": True},
                sub={"essential": True},
                leeway=30,
            ).validate(token.claims)
        except (JoseError, ValueError) as e:
            raise SignInRefused(f"the ID token is not valid: {type(e).__name__}") from e
        return dict(token.claims)

    async def _discovered(self) -> _Provider:
        known = self._provider
        if known is not None and time.monotonic() - known.read_at < PROVIDER_TTL_S:
            return known
        try:
            config = (await self._http.get(self.issuer + DISCOVERY)).raise_for_status().json()
            jwks = (await self._http.get(config["jwks_uri"])).raise_for_status().json()
        except (httpx.HTTPError, KeyError, ValueError) as e:
            raise SignInRefused("the sign-in provider is not answering") from e
        if str(config.get("issuer", "")).rstrip("/") != self.issuer:
            raise SignInRefused("the sign-in provider names another issuer")
        self._provider = _Provider(
            config["authorization_endpoint"],
            config["token_endpoint"],
            KeySet.import_key_set(jwks),
            time.monotonic(),
        )
        return self._provider
