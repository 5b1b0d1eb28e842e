"""The pages' security at the edge: who the viewer is (a session cookie holding the member's
token: one signed with the services' secret, or the sign-in provider's in an envelope this site
signs), CSRF tokens on every form and htmx request, and the response headers
(Content-Security-Policy without inline scripts, no framing, no sniffing)."""

import hashlib
import hmac
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

import jwt
from fastapi import Request
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from services.web.adapters.oidc import Pending
from shared.auth import issue_token, verify
from shared.http import Problem

SESSION_COOKIE = "cop_session"
CSRF_COOKIE = "cop_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
PENDING_COOKIE = "cop_sign_in"
ENVELOPE_ISSUER = "cop-web-session"  # a session holding the sign-in provider's token
PENDING_ISSUER = "cop-web-sign-in"
CHAT_LINK_ISSUER = "cop-web-chat-link"  # a chat account asking to be linked to a member
CHAT_LINK_TTL_S = 600
CHAT_IDENTITY = ("platform", "workspace_id", "user_id", "user_name")

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


@dataclass(frozen=True)
class Viewer:
    member_id: str
    token: str


@dataclass(frozen=True)
class Sessions:
    """Signs members' sessions and the CSRF tokens of their forms with the services' shared
    secret: the session's token is what the services accept as the member's bearer token."""

    secret: str
    ttl_s: int
    max_lifetime_s: int
    audience: str
    secure: bool

    def sign_in(
        self,
        response: Response,
        member_id: str,
        upstream_token: str | None = None,
        expires_at: int | None = None,
    ) -> None:
        """A session for the member. Without `upstream_token` (development sign-in) the cookie
        is a token the services accept, signed with their shared secret; with one (from the
        sign-in provider) the cookie carries it, in an envelope this site signs, until it
        expires."""
        ttl_s = self.ttl_s
        if upstream_token is None:
            cookie = issue_token(
                self.secret,
                member_id,
                ttl_s=ttl_s,
                max_lifetime_s=self.max_lifetime_s,
                audience=self.audience,
            )
        else:
            now = int(time.time())
            ttl_s = max(min(ttl_s, (expires_at or now + ttl_s) - now), 1)
            envelope = {"iss": ENVELOPE_ISSUER, "sub": member_id, "tok": upstream_token}
            cookie = jwt.encode(
                {**envelope, "iat": now, "exp": now + ttl_s}, self._envelope_key, "HS256"
            )
        self._set(response, SESSION_COOKIE, cookie, ttl_s, "/")

    def keep_pending(self, response: Response, pending: Pending) -> None:
        """A sign-in on its way through the provider: for ten minutes, for the callback only."""
        now = int(time.time())
        claims = {**asdict(pending), "iss": PENDING_ISSUER, "iat": now, "exp": now + 600}
        value = jwt.encode(claims, self._envelope_key, "HS256")
        self._set(response, PENDING_COOKIE, value, 600, "/auth")

    def pending(self, request: Request) -> Pending | None:
        claims = self._opened(request.cookies.get(PENDING_COOKIE), PENDING_ISSUER)
        if claims is None:
            return None
        return Pending(claims["state"], claims["nonce"], claims["verifier"], claims["next"])

    def chat_link_token(self, identity: dict[str, str | None]) -> str:
        """The signed, ten-minute proof that a chat account asked to be linked: the link
        `/cop link` answers with, to the person who typed it only."""
        now = int(time.time())
        claims = {**identity, "iss": CHAT_LINK_ISSUER, "iat": now, "exp": now + CHAT_LINK_TTL_S}
        return jwt.encode(claims, self._envelope_key, "HS256")

    def chat_link(self, token: str | None) -> dict[str, str | None] | None:
        """The chat account a link names, or None when the link is forged or expired."""
        claims = self._opened(token, CHAT_LINK_ISSUER)
        if claims is None or not all(claims.get(k) for k in CHAT_IDENTITY[:3]):
            return None
        return {k: claims.get(k) for k in CHAT_IDENTITY}

    def _set(self, response: Response, name: str, value: str, ttl_s: int, path: str) -> None:
        response.set_cookie(
            name, value, max_age=ttl_s, httponly=True, samesite="lax", secure=self.secure, path=path
        )

    @property
    def _envelope_key(self) -> bytes:
        return hashlib.sha256(b"cop-web-session\0" + self.secret.encode()).digest()

    def _opened(self, value: str | None, issuer: str) -> dict[str, Any] | None:
        if not value:
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                value, self._envelope_key, algorithms=["HS256"], issuer=issuer,
                options={"require": ["exp", "iat", "iss"]},
            )  # fmt: skip
        except jwt.PyJWTError:
            return None
        return claims

    def sign_out(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")

    def viewer(self, request: Request) -> Viewer | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        envelope = self._opened(token, ENVELOPE_ISSUER)
        if envelope is not None:  # signed in through the provider: its token goes upstream
            return Viewer(str(envelope["sub"]), str(envelope["tok"]))
        try:
            caller = verify(
                self.secret, token, max_lifetime_s=self.max_lifetime_s, audience=self.audience
            )
        except Problem:
            return None
        return Viewer(caller.member_id, token)

    # --- CSRF: a random value in an HttpOnly cookie, and in each form its HMAC ---

    def _csrf_for(self, nonce: str) -> str:
        key = hashlib.sha256(b"cop-web-csrf\0" + self.secret.encode()).digest()
        return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()

    def csrf_token(self, request: Request) -> str:
        """The token the page's forms carry (the nonce is set on the response if new)."""
        nonce = request.cookies.get(CSRF_COOKIE) or request.state.new_csrf_nonce
        return self._csrf_for(nonce)

    def csrf_ok(self, request: Request, sent: str | None) -> bool:
        nonce = request.cookies.get(CSRF_COOKIE)
        if not nonce or not sent:
            return False
        return hmac.compare_digest(self._csrf_for(nonce), sent)


class EdgeHeaders(BaseHTTPMiddleware):
    """Security headers on every answer, and a CSRF nonce cookie for a browser that has none."""

    def __init__(self, app: object, sessions: Sessions) -> None:
        super().__init__(app)  # type: ignore[arg-type]  # Starlette wants its ASGIApp protocol; add_middleware passes the app untyped
        self.sessions = sessions

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        fresh = None if request.cookies.get(CSRF_COOKIE) else secrets.token_urlsafe(32)
        request.state.new_csrf_nonce = fresh
        response = await call_next(request)
        if fresh:
            response.set_cookie(
                CSRF_COOKIE,
                fresh,
                httponly=True,
                samesite="lax",
                secure=self.sessions.secure,
                path="/",
            )
        response.headers.setdefault("content-security-policy", CSP)
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["x-frame-options"] = "DENY"
        response.headers["referrer-policy"] = "same-origin"
        return response
