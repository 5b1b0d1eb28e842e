"""Member authentication: a bearer token (JWT, HS256) whose subject is the acting member.

A member acts only in their own name: no kudos, feedback or profile change for someone else.
The `admin` scope (operators, trusted back-office systems) may act for any member.
"""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Header

from shared.http import Problem

ISSUER = "cop-platform"
ADMIN = "admin"
_LEEWAY_S = 30


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


def issue_token(
    secret: str, member_id: str, *, scopes: tuple[str, ...] = (), ttl_s: int = 3600
) -> str:
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


def verify(secret: str, token: str) -> Caller:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=ISSUER,
            leeway=_LEEWAY_S,
            options={"require": ["sub", "exp", "iss"]},
        )
    except jwt.ExpiredSignatureError as e:
        raise _unauthorized("the token has expired") from e
    except jwt.PyJWTError as e:
        raise _unauthorized("the token is not valid") from e
    return Caller(str(claims["sub"]), frozenset(str(claims.get("scope", "")).split()))


def member_auth(secret: str) -> Callable[..., Awaitable[Caller]]:
    """A FastAPI dependency that returns the authenticated caller or answers 401."""

    async def authenticate(authorization: Annotated[str | None, Header()] = None) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("send `Authorization: Bearer <token>` (`copctl token MEMBER`)")
        return verify(secret, token.strip())

    return authenticate
