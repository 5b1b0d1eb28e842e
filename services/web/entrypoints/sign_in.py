"""Signing in through the organisation's OpenID Connect provider: `/auth/login` sends the browser
there (with PKCE, state and nonce kept in a short-lived signed cookie), `/auth/callback` takes
the code back, checks it and opens the member's session."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.web.adapters.oidc import OidcClient, SignInRefused
from services.web.entrypoints.http import local_path
from services.web.entrypoints.security import PENDING_COOKIE, Sessions
from services.web.queries.pages import NotFound


def sign_in_router(
    oidc: OidcClient | None, sessions: Sessions, pages: Jinja2Templates
) -> APIRouter:
    api = APIRouter()

    def refused(request: Request, reason: str, status_code: int = 400) -> Response:
        context = {
            "viewer": None,
            "csrf_token": sessions.csrf_token(request),
            "next": "/",
            "member_id": "",
            "errors": {"form": f"Signing in did not work: {reason}."},
        }
        return pages.TemplateResponse(request, "sign_in.html", context, status_code=status_code)

    @api.get("/auth/login")
    async def login(
        request: Request, next: Annotated[str, Query(max_length=500)] = "/"
    ) -> Response:
        if oidc is None:
            raise NotFound("sign-in provider")
        try:
            url, pending = await oidc.start(local_path(next))
        except SignInRefused as e:
            return refused(request, str(e), status_code=502)
        response = RedirectResponse(url, status_code=303)
        sessions.keep_pending(response, pending)
        return response

    @api.get("/auth/callback")
    async def callback(
        request: Request,
        code: Annotated[str, Query(max_length=2048)] = "",
        state: Annotated[str, Query(max_length=512)] = "",
        error: Annotated[str, Query(max_length=200)] = "",
    ) -> Response:
        if oidc is None:
            raise NotFound("sign-in provider")
        pending = sessions.pending(request)
        if error:
            return refused(request, f"the provider said {error!r}")
        if pending is None or not hmac.compare_digest(pending.state, state):
            return refused(request, "this sign-in was not started here, or took too long")
        if not code:
            return refused(request, "the provider sent no code")
        try:
            signed = await oidc.finish(pending, code)
        except SignInRefused as e:
            return refused(request, str(e), status_code=502)
        response = RedirectResponse(pending.next, status_code=303)
        sessions.sign_in(response, signed.member_id, signed.access_token, signed.expires_at)
        response.delete_cookie(PENDING_COOKIE, path="/auth", httponly=True, samesite="lax")
        return response

    return api
