"""The platform's own bearer tokens: HS256 JWTs signed with the services' shared secret, as
`copctl token` issues them. Verifying a token and acting on it is `shared.auth`'s job; this
module is what issuing needs, light enough for the CLI to load quickly."""

import time

import jwt
from pydantic import TypeAdapter, ValidationError

from shared.ids import Id

ISSUER = "cop-platform"
ADMIN = "admin"
DEFAULT_MAX_LIFETIME_S = 24 * 3600
_MEMBER_ID: TypeAdapter[str] = TypeAdapter(Id)


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
    audience: str = "",
) -> str:
    """A signed token for a member; a negative `ttl_s` makes one that has already expired."""
    if not is_member_id(member_id):
        raise ValueError(f"{member_id!r} is not a member id")
    if ttl_s > max_lifetime_s:
        raise ValueError(f"a token may live at most {max_lifetime_s} s, not {ttl_s} s")
    now = int(time.time())
    claims: dict[str, object] = {"sub": member_id, "iss": ISSUER, "iat": now, "exp": now + ttl_s}
    if audience:
        claims["aud"] = audience
    if scopes:
        claims["scope"] = " ".join(scopes)
    return jwt.encode(claims, secret, algorithm="HS256")
