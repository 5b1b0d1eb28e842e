"""The pages' security at the edge: who the viewer is (a session cookie holding the member's
signed token), CSRF tokens on every form and htmx request, and the response headers
(Content-Security-Policy without inline scripts, no framing, no sniffing)."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from shared.auth import issue_token, verify
from shared.http import Problem

SESSION_COOKIE = "cop_session"
CSRF_COOKIE = "cop_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

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

    def sign_in(self, response: Response, member_id: str) -> None:
        token = issue_token(
            self.secret,
            member_id,
            ttl_s=self.ttl_s,
            max_lifetime_s=self.max_lifetime_s,
            audience=self.audience,
        )
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=self.ttl_s,
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
        )

    def sign_out(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")

    def viewer(self, request: Request) -> Viewer | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
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
