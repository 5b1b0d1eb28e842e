"""The topic backlog's page (signed in): a community's topics, most wanted first, with a vote
button on each and the viewer's votes left; a form to propose a topic; for the leader and core
members, forms to schedule a topic as a session or decline it. A refusal is shown next to the
topic or the form it concerns, as the events service said it."""

import uuid
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.commands.topics import BacklogCommands
from services.web.domain.topics import (
    ANY_STATUS,
    DEFAULT_DURATION_MINUTES,
    FORMATS,
    SORT_LABELS,
    SORTS,
    STATUSES,
    default_start,
    picked_sort,
    picked_status,
    propose_body,
    schedule_body,
)
from services.web.entrypoints.http import PageKit
from services.web.queries.topics import BacklogQueries
from shared.events.catalog import Id


def topic_router(queries: BacklogQueries, commands: BacklogCommands, kit: PageKit) -> APIRouter:
    api = APIRouter(default_response_class=HTMLResponse)

    async def backlog_page(
        request: Request,
        community_id: str,
        *,
        status: str = "open",
        sort: str = "wanted",
        page: int = 1,
        scheduled: str = "",
        topic_errors: dict[str, dict[str, str]] | None = None,
        topic_form: dict[str, str] | None = None,
        propose_errors: dict[str, str] | None = None,
        propose_form: dict[str, str] | None = None,
    ) -> Response:
        """The page; with errors, what the service refused (next to the topic, by its id, or
        next to the propose form) and what the member had typed."""
        viewer = kit.signed_in(request)
        status, sort = picked_status(status), picked_sort(sort)
        backlog = await queries.backlog(
            community_id, viewer.member_id, viewer.token, status, sort, page
        )
        context = {
            "page": backlog,
            "statuses": (*STATUSES, ANY_STATUS),
            "sorts": SORTS,
            "sort_labels": SORT_LABELS,
            "formats": FORMATS,
            "scheduled": scheduled,
            "topic_errors": topic_errors or {},
            "topic_form": topic_form or {},
            "default_start": default_start(datetime.now(UTC)),
            "default_duration": DEFAULT_DURATION_MINUTES,
            "schedule_key": str(uuid.uuid4()),
            "propose_errors": propose_errors or {},
            "propose_form": propose_form or {"idempotency_key": str(uuid.uuid4())},
        }
        refused = bool(topic_errors or propose_errors)
        return kit.render(request, "topics.html", context, status_code=422 if refused else 200)

    def back_to(
        community_id: str, fields: dict[str, str], topic_id: str = "", **extra: str
    ) -> RedirectResponse:
        """The backlog as the member left it (the status and order picked), at the topic acted
        on, with `extra`."""
        query = {
            "status": picked_status(fields.get("status", "")),
            "sort": picked_sort(fields.get("sort", "")),
            **extra,
        }
        anchor = f"#topic-{topic_id}" if topic_id else ""
        target = f"/communities/{community_id}/topics?{urlencode(query)}{anchor}"
        return RedirectResponse(target, status_code=303)

    @api.get("/communities/{community_id}/topics")
    async def backlog(
        request: Request,
        community_id: Id,
        status: Annotated[str, Query(max_length=16)] = "open",
        sort: Annotated[str, Query(max_length=16)] = "wanted",
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
        scheduled: Annotated[str, Query(max_length=128)] = "",
    ) -> Response:
        return await backlog_page(
            request, community_id, status=status, sort=sort, page=page, scheduled=scheduled
        )

    @api.post("/communities/{community_id}/topics")
    async def propose(request: Request, community_id: Id) -> Response:
        viewer, fields = await kit.signed_in_form(request)
        key = fields.get("idempotency_key") or str(uuid.uuid4())
        body = propose_body(fields, viewer.member_id)
        topic_id, errors = await commands.propose(viewer.token, community_id, body, key)
        if topic_id:
            return back_to(community_id, fields, topic_id)
        return await backlog_page(
            request, community_id, status=fields.get("status", ""), sort=fields.get("sort", ""),
            propose_errors=errors, propose_form=fields,
        )  # fmt: skip

    async def on_topic(
        request: Request, community_id: str, topic_id: str, fields: dict[str, str],
        errors: dict[str, str],
    ) -> Response:  # fmt: skip
        """Back to the backlog, or the backlog with the refusal next to the topic."""
        if not errors:
            return back_to(community_id, fields, topic_id)
        return await backlog_page(
            request, community_id, status=fields.get("status", ""), sort=fields.get("sort", ""),
            topic_errors={topic_id: errors}, topic_form=fields,
        )  # fmt: skip

    @api.post("/communities/{community_id}/topics/{topic_id}/vote")
    async def vote(request: Request, community_id: Id, topic_id: Id) -> Response:
        viewer, fields = await kit.signed_in_form(request)
        errors = await commands.vote(viewer.token, topic_id)
        return await on_topic(request, community_id, topic_id, fields, errors)

    @api.post("/communities/{community_id}/topics/{topic_id}/take-back")
    async def take_back(request: Request, community_id: Id, topic_id: Id) -> Response:
        viewer, fields = await kit.signed_in_form(request)
        errors = await commands.take_back(viewer.token, topic_id)
        return await on_topic(request, community_id, topic_id, fields, errors)

    @api.post("/communities/{community_id}/topics/{topic_id}/schedule")
    async def schedule(request: Request, community_id: Id, topic_id: Id) -> Response:
        viewer, fields = await kit.signed_in_form(request)
        key = fields.get("idempotency_key") or str(uuid.uuid4())
        body = schedule_body(fields, viewer.member_id)
        session_id, errors = await commands.schedule(viewer.token, topic_id, body, key)
        if session_id:
            return back_to(community_id, fields, scheduled=session_id)
        return await on_topic(request, community_id, topic_id, fields, errors)

    @api.post("/communities/{community_id}/topics/{topic_id}/decline")
    async def decline(request: Request, community_id: Id, topic_id: Id) -> Response:
        viewer, fields = await kit.signed_in_form(request)
        reason = fields.get("reason", "").strip()
        errors = (
            await commands.decline(viewer.token, topic_id, reason)
            if reason
            else {"reason": "say why the topic is declined"}
        )
        return await on_topic(request, community_id, topic_id, fields, errors)

    return api
