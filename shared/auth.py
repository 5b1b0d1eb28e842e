"""Member authentication: a bearer token (JWT) whose subject is the acting member.

A member acts only in their own name: no kudos, feedback or profile change for someone else.
The `admin` scope (operators, trusted back-office systems) may act for any member.

Tokens come from one of two places, by settings:

- signed with the services' shared secret (HS256; `copctl token`), issuer `cop-platform`;
- issued by an OpenID Connect provider (`AUTH_OIDC_ISSUER`), checked against the keys its JWKS
  publishes (found through its discovery document unless `AUTH_OIDC_JWKS_URL` is given), with
  the algorithms `AUTH_OIDC_ALGORITHMS` allows and the audience `AUTH_OIDC_AUDIENCE`.

Either way a token must name its issuer, say when it was issued and when it expires, and may
not live longer than the services' maximum (`AUTH_TOKEN_MAX_LIFETIME_S`, 24 h by default); when
an audience is configured it must carry it; its subject must be a member id as the catalog
defines one. Anything else is answered 401, never 500; an issuer whose keys cannot be fetched
is answered 503.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import httpx
import jwt
from fastapi import Header

from shared.actor import Actor
from shared.http import Problem
from shared.settings import ServiceSettings
from shared.tokens import ADMIN as ADMIN
from shared.tokens import DEFAULT_MAX_LIFETIME_S as DEFAULT_MAX_LIFETIME_S
from shared.tokens import ISSUER as ISSUER
from shared.tokens import is_member_id as is_member_id
from shared.tokens import issue_token as issue_token

_LEEWAY_S = 30
_REQUIRED = ["sub", "exp", "iat", "iss"]


@dataclass(frozen=True)
class Caller:
    member_id: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes

    @property
    def actor(self) -> Actor:
        """The caller as the services' rules see it."""
        return Actor(self.member_id, is_admin=self.is_admin)

    def require_self(self, member_id: str, action: str = "act") -> None:
        """Refuse acting in someone else's name, unless the caller is an admin."""
        if member_id != self.member_id and not self.is_admin:
            raise Problem(
                403,
                "Not your own name",
                f"{self.member_id} cannot {action} as {member_id}",
                type_="urn:cop:problem:auth:not-self",
            )

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Problem(403, "Admin scope required", type_="urn:cop:problem:auth:not-admin")


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "Authentication required",
        detail,
        type_="urn:cop:problem:auth:unauthenticated",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _issuer_unavailable(detail: str) -> Problem:
    return Problem(
        503,
        "Token issuer unavailable",
        detail,
        type_="urn:cop:problem:auth:issuer-unavailable",
        headers={"Retry-After": "5"},
    )


def _decoded(
    token: str, key: Any, *, algorithms: Sequence[str], issuer: str, audience: str
) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=list(algorithms),
            issuer=issuer,
            audience=audience or None,
            leeway=_LEEWAY_S,
            options={"require": [*_REQUIRED, "aud"] if audience else _REQUIRED},
        )
    except jwt.ExpiredSignatureError as e:
        raise _unauthorized("the token has expired") from e
    except jwt.InvalidIssuerError as e:
        raise _unauthorized("the token is from another issuer") from e
    except jwt.InvalidAudienceError as e:
        raise _unauthorized("the token is meant for another audience") from e
    except jwt.MissingRequiredClaimError as e:
        raise _unauthorized(f"the token has no {e.claim} claim") from e
    except jwt.PyJWTError as e:
        raise _unauthorized("the token is not valid") from e
    return claims


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """RFC 9068's space-separated `scope`, or the list some providers send as `scp`."""
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise _unauthorized("the token's scope is not a space-separated string")
    listed = claims.get("scp", [])
    if isinstance(listed, str):
        listed = listed.split()
    if not isinstance(listed, list) or not all(isinstance(s, str) for s in listed):
        raise _unauthorized("the token's scp is not a list of scopes")
    return frozenset(scope.split()) | frozenset(listed)


def _caller(claims: Mapping[str, Any], *, max_lifetime_s: int, member_claim: str) -> Caller:
    issued, expires = claims["iat"], claims["exp"]
    if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in (issued, expires)):
        raise _unauthorized("the token's iat and exp are not numeric dates")
    if expires - issued > max_lifetime_s:
        raise _unauthorized(f"the token lives longer than the {max_lifetime_s} s allowed")
    member_id = claims.get(member_claim)
    if not is_member_id(member_id):
        what = "subject" if member_claim == "sub" else member_claim
        raise _unauthorized(f"the token's {what} is not a member id")
    assert isinstance(member_id, str)
    return Caller(member_id, _scopes(claims))


def verify(
    secret: str,
    token: str,
    *,
    max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S,
    audience: str = "",
) -> Caller:
    """A token signed with the shared secret (HS256)."""
    claims = _decoded(token, secret, algorithms=["HS256"], issuer=ISSUER, audience=audience)
    return _caller(claims, max_lifetime_s=max_lifetime_s, member_claim="sub")


class OidcVerifier:
    """Tokens of an OpenID Connect provider, checked with the keys of its JWKS.

    The discovery document is read once (its `issuer` must be the configured one, as OpenID
    Connect Discovery requires); PyJWT's `PyJWKClient` keeps the key set for `cache_s` and
    fetches it again when a token names a key it does not know (at most once per
    `refetch_cooldown_s`, so tokens with made-up key ids cannot hammer the provider), so the
    provider can rotate keys.
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        jwks_url: str = "",
        algorithms: Sequence[str] = ("RS256",),
        member_claim: str = "sub",
        max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S,
        timeout_s: float = 5.0,
        cache_s: float = 300.0,
        refetch_cooldown_s: float = 30.0,
    ) -> None:
        if not audience:
            raise ValueError("an OpenID Connect issuer's tokens need an audience to check")
        unsafe = [a for a in algorithms if a.upper().startswith("HS") or a.lower() == "none"]
        if unsafe or not algorithms:
            raise ValueError(f"not a public-key algorithm for a JWKS: {unsafe or 'none given'}")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.member_claim = member_claim
        self.max_lifetime_s = max_lifetime_s
        self._jwks_url = jwks_url
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._cooldown_s = refetch_cooldown_s
        self._client: jwt.PyJWKClient | None = None
        self._lock = asyncio.Lock()

    async def _discover(self) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s, trust_env=False) as http:
                response = await http.get(url)
            response.raise_for_status()
            config = response.json()
        except (httpx.HTTPError, ValueError) as e:
            raise _issuer_unavailable(f"cannot read the issuer's discovery document: {e}") from e
        if not isinstance(config, dict) or config.get("issuer") != self.issuer:
            raise _issuer_unavailable("the discovery document names another issuer")
        jwks_uri = config.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise _issuer_unavailable("the discovery document has no jwks_uri")
        return jwks_uri

    async def _keys(self) -> jwt.PyJWKClient:
        async with self._lock:
            if self._client is None:
                url = self._jwks_url or await self._discover()
                self._client = jwt.PyJWKClient(
                    url,
                    cache_keys=True,
                    lifespan=self._cache_s,
                    timeout=self._timeout_s,
                    cooldown_duration=self._cooldown_s,
                )
            return self._client

    async def verify(self, token: str) -> Caller:
        keys = await self._keys()
        try:
            # PyJWKClient fetches with urllib: keep the event loop free while it does.
            signing_key = await asyncio.to_thread(keys.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as e:
            raise _issuer_unavailable("cannot fetch the issuer's keys") from e
        except jwt.PyJWKClientError as e:
            raise _unauthorized("the token is not signed with a key of the issuer") from e
        except jwt.PyJWTError as e:
            raise _unauthorized("the token is not valid") from e
        claims = _decoded(
            token,
            signing_key,
            algorithms=self.algorithms,
            issuer=self.issuer,
            audience=self.audience,
        )
        return _caller(claims, max_lifetime_s=self.max_lifetime_s, member_claim=self.member_claim)


class TokenVerifier(Protocol):
    async def __call__(self, token: str) -> Caller: ...


def bearer_auth(verify_token: TokenVerifier) -> Callable[..., Awaitable[Caller]]:
    """A FastAPI dependency that returns the authenticated caller or answers 401."""

    async def authenticate(authorization: Annotated[str | None, Header()] = None) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("send `Authorization: Bearer <token>` (`copctl token MEMBER`)")
        return await verify_token(token.strip())

    return authenticate


def member_auth(
    secret: str, *, max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S, audience: str = ""
) -> Callable[..., Awaitable[Caller]]:
    """The dependency for tokens signed with the shared secret."""

    async def hs256(token: str) -> Caller:
        return verify(secret, token, max_lifetime_s=max_lifetime_s, audience=audience)

    return bearer_auth(hs256)


def auth_from_settings(settings: ServiceSettings) -> Callable[..., Awaitable[Caller]]:
    """The dependency the settings ask for: the OpenID Connect issuer's tokens when
    `AUTH_OIDC_ISSUER` is set, else tokens signed with `AUTH_TOKEN_SECRET`."""
    if not settings.auth_oidc_issuer:
        return member_auth(
            settings.auth_token_secret,
            max_lifetime_s=settings.auth_token_max_lifetime_s,
            audience=settings.auth_token_audience,
        )
    verifier = OidcVerifier(
        settings.auth_oidc_issuer,
        settings.auth_oidc_audience,
        jwks_url=settings.auth_oidc_jwks_url,
        algorithms=settings.auth_oidc_algorithms,
        member_claim=settings.auth_oidc_member_claim,
        max_lifetime_s=settings.auth_token_max_lifetime_s,
    )
    return bearer_auth(verifier.verify)
