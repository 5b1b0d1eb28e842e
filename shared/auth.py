"""Member authentication: a bearer token (JWT, HS256) whose subject is the acting member.

A member acts only in their own name: no kudos, feedback or profile change for someone else.
The `admin` scope (operators, trusted back-office systems) may act for any member.

A token must say when it was issued and when it expires, and may not live longer than the
services' maximum (`AUTH_TOKEN_MAX_LIFETIME_S`, 24 h by default); its subject must be a
member id as the catalog defines one. Anything else is answered 401, never 500.
"""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Header
from pydantic import TypeAdapter, ValidationError

from shared.events.catalog import Id
from shared.http import Problem

ISSUER = "cop-platform"
ADMIN = "admin"
DEFAULT_MAX_LIFETIME_S = 24 * 3600
_LEEWAY_S = 30
_MEMBER_ID: TypeAdapter[str] = TypeAdapter(Id)


@dataclass(frozen=True)
class Caller:
    member_id: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes

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


def is_member_id(value: object) -> bool:
    try:
        _MEMBER_ID.validate_python(value, strict=True)
    except ValidationError:
        return False
    return True


def issue_token(
    secret: str,
    member_id: str,
    *,
    scopes: tuple[str, ...] = (),
    ttl_s: int = 3600,
    max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S,
) -> str:
    """A signed token for a member; a negative `ttl_s` makes one that has already expired."""
    if not is_member_id(member_id):
        raise ValueError(f"{member_id!r} is not a member id")
    if ttl_s > max_lifetime_s:
        raise ValueError(f"a token may live at most {max_lifetime_s} s, not {ttl_s} s")
    now = int(time.time())
    claims: dict[str, object] = {"sub": member_id, "iss": ISSUER, "iat": now, "exp": now + ttl_s}
    if scopes:
        claims["scope"] = " ".join(scopes)
    return jwt.encode(claims, secret, algorithm="HS256")


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "Authentication required",
        detail,
        type_="urn:cop:problem:auth:unauthenticated",
        headers={"WWW-Authenticate": "Bearer"},
    )


def verify(secret: str, token: str, *, max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S) -> Caller:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=ISSUER,
            leeway=_LEEWAY_S,
            options={"require": ["sub", "exp", "iat", "iss"]},
        )
    except jwt.ExpiredSignatureError as e:
        raise _unauthorized("the token has expired") from e
    except jwt.PyJWTError as e:
        raise _unauthorized("the token is not valid") from e
    issued, expires = claims["iat"], claims["exp"]
    if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in (issued, expires)):
        raise _unauthorized("the token's iat and exp are not numeric dates")
    if expires - issued > max_lifetime_s:
        raise _unauthorized(f"the token lives longer than the {max_lifetime_s} s allowed")
    if not is_member_id(claims["sub"]):
        raise _unauthorized("the token's subject is not a member id")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise _unauthorized("the token's scope is not a space-separated string")
    return Caller(claims["sub"], frozenset(scope.split()))


def member_auth(
    secret: str, *, max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S
) -> Callable[..., Awaitable[Caller]]:
    """A FastAPI dependency that returns the authenticated caller or answers 401."""

    async def authenticate(authorization: Annotated[str | None, Header()] = None) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("send `Authorization: Bearer <token>` (`copctl token MEMBER`)")
        return verify(secret, token.strip(), max_lifetime_s=max_lifetime_s)

    return authenticate
