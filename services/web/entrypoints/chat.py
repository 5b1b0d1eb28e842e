"""Chat slash commands (`POST /chat/slack`, `/chat/mattermost`, `/chat/teams`) and the page
that links a chat account to a member (`/chat/link`).

A command request is verified before anything in it is read; a forged, stale or replayed one
gets 401 and nothing is done. Slack and Mattermost wait three seconds for an answer: one that
is not ready by then is acknowledged at once and delivered to the request's `response_url`.
Teams waits for its answer (and shows it in the conversation)."""

import asyncio
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.web.adapters.chat_platforms import (
    ChatAnswer,
    ChatPlatform,
    DelayedAnswers,
    NotVerified,
    Platform,
    Teams,
)
from services.web.adapters.replays import ReplayCheckUnavailable, SeenRequests
from services.web.adapters.upstream import Upstreams
from services.web.commands.chat import ChatCommands
from services.web.commands.replies import refusal
from services.web.entrypoints.http import PageKit
from shared.http import Problem, problem_response
from shared.metrics import count_chat_request

WORKING = ChatAnswer("Working on it…")


def chat_router(
    platforms: Mapping[ChatPlatform, Platform],
    commands: ChatCommands,
    seen: SeenRequests,
    delayed: DelayedAnswers,
    kit: PageKit,
    upstreams: Upstreams,
    answer_within_s: float,
) -> APIRouter:
    api = APIRouter()

    def refused(request: Request, platform: str, outcome: str) -> Response:
        count_chat_request(platform, outcome)
        return problem_response(
            request, Problem(401, "Not verified", type_="urn:cop:problem:web:chat-not-verified")
        )

    # The link routes first: `/chat/{platform}` would take `/chat/link` too.
    @api.get("/chat/link", response_class=HTMLResponse)
    async def link_page(
        request: Request, t: Annotated[str, Query(max_length=4000)] = ""
    ) -> Response:
        kit.signed_in(request)
        identity = kit.sessions.chat_link(t)
        context = _link_page(identity, token=t)
        return kit.render(request, "chat_link.html", context, status_code=200 if identity else 400)

    @api.post("/chat/link", response_class=HTMLResponse)
    async def link(request: Request) -> Response:
        viewer, fields = await kit.signed_in_form(request)
        identity = kit.sessions.chat_link(fields.get("token"))
        if identity is None:
            return kit.render(request, "chat_link.html", _link_page(None), status_code=400)
        reply = await upstreams.put(
            "events",
            f"/members/{viewer.member_id}/chat-identities",
            {k: v for k, v in identity.items() if v},
            token=commands.authority.edge(),
            params={"wait": "true"},
        )
        error = refusal(reply)
        retry = fields.get("token", "") if error else ""
        context = _link_page(identity, token=retry, linked=error is None, error=error)
        return kit.render(request, "chat_link.html", context, status_code=502 if error else 200)

    @api.post("/chat/{platform}", include_in_schema=False)
    async def command(platform: str, request: Request) -> Response:
        try:
            chosen = ChatPlatform(platform)
            verifier = platforms[chosen]
        except (ValueError, KeyError):
            return problem_response(
                request, Problem(404, "Not found", "no chat platform is set up at this path")
            )
        body = await request.body()
        try:
            asked = verifier.verify(body, request.headers)
        except NotVerified as e:
            return refused(request, platform, e.reason)
        if asked.proof is not None:
            try:
                if not await seen.first_time(platform, asked.proof):
                    return refused(request, platform, "replayed")
            except ReplayCheckUnavailable:
                count_chat_request(platform, "unchecked")
                unchecked = Problem(503, "Try again", "the request cannot be checked right now")
                return problem_response(request, unchecked)
        count_chat_request(platform, "answered")
        work = asyncio.create_task(commands.answer(asked))
        if isinstance(verifier, Teams):
            return JSONResponse(verifier.payload(await work))
        done, _ = await asyncio.wait({work}, timeout=answer_within_s)
        if done:
            return JSONResponse(verifier.payload(work.result()))
        delayed.follow_up(work, asked.response_url, verifier)
        return JSONResponse(verifier.payload(WORKING))

    return api


def _link_page(
    identity: Mapping[str, str | None] | None,
    *,
    token: str = "",
    linked: bool = False,
    error: str | None = None,
) -> dict[str, object]:
    """The link page: the account a valid link names (None: the link is not valid), the
    token to confirm with, and whether the binding was made or why not."""
    return {"identity": identity, "token": token, "linked": linked, "error": error}
