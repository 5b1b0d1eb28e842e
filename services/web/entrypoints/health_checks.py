"""The self-assessment pages: a community's rounds with the cards-by-rounds matrix (and, for its
leader, a form to open one), a round to answer while it is open, and its results after."""

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.commands.health_checks import HealthCheckCommands
from services.web.domain.health_checks import COLOURS, answers_body
from services.web.entrypoints.http import PageKit
from services.web.queries.health_checks import HealthCheckQueries
from shared.events.catalog import HealthCheckTemplate, Id

TEMPLATES = [t.value for t in HealthCheckTemplate]
TRENDS = ("up", "same", "down")


def health_check_router(
    queries: HealthCheckQueries, commands: HealthCheckCommands, kit: PageKit
) -> APIRouter:
    api = APIRouter(default_response_class=HTMLResponse)

    async def rounds_page(
        request: Request,
        community_id: str,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Response:
        viewer = kit.signed_in(request)
        page = await queries.rounds(community_id, viewer.token)
        leader = (page.community.value or {}).get("leader_id")
        default_close = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
        context = {
            "page": page,
            "templates": TEMPLATES,
            "is_leader": leader == viewer.member_id,
            "errors": errors or {},
            "form": form
            or {
                "closes_at": default_close,
                "min_respondents": "3",
                "idempotency_key": str(uuid.uuid4()),
            },
        }
        return kit.render(request, "health_checks.html", context, status_code=status_code)

    @api.get("/communities/{community_id}/health-checks")
    async def rounds(request: Request, community_id: Id) -> Response:
        return await rounds_page(request, community_id)

    @api.post("/communities/{community_id}/health-checks")
    async def open_round(request: Request, community_id: Id) -> Response:
        viewer, fields = await kit.signed_in_form(request)
        body = {
            "template": fields.get("template", ""),
            "closes_at": _utc(fields.get("closes_at", "")),
            "min_respondents": fields.get("min_respondents") or 3,
        }
        key = fields.get("idempotency_key") or str(uuid.uuid4())
        round_id, errors = await commands.open_round(viewer.token, community_id, body, key)
        if round_id:
            return RedirectResponse(f"/health-checks/{round_id}", status_code=303)
        return await rounds_page(request, community_id, errors, fields, status_code=422)

    async def round_page(
        request: Request,
        round_id: str,
        errors: dict[str, str] | None = None,
        saved: bool = False,
        status_code: int = 200,
    ) -> Response:
        viewer = kit.signed_in(request)
        page = await queries.round(round_id, viewer.token)
        leader = (page.community.value or {}).get("leader_id")
        context = {
            "page": page,
            "colours": COLOURS,
            "trends": TRENDS,
            "errors": errors or {},
            "saved": saved,
            "is_leader": leader == viewer.member_id,
        }
        return kit.render(request, "health_check.html", context, status_code=status_code)

    @api.get("/health-checks/{round_id}")
    async def round_(request: Request, round_id: Id, saved: bool = False) -> Response:
        return await round_page(request, round_id, saved=saved)

    @api.post("/health-checks/{round_id}/answers")
    async def answer(request: Request, round_id: Id) -> Response:
        viewer, fields = await kit.signed_in_form(request)
        page = await queries.round(round_id, viewer.token)
        cards = [c["card_id"] for c in page.round.get("cards", [])]
        errors = await commands.answer(viewer.token, round_id, answers_body(fields, cards))
        if not errors:
            return RedirectResponse(f"/health-checks/{round_id}?saved=true", status_code=303)
        return await round_page(request, round_id, errors, status_code=422)

    @api.post("/health-checks/{round_id}/close")
    async def close(request: Request, round_id: Id) -> Response:
        viewer, _ = await kit.signed_in_form(request)
        refused = await commands.close(viewer.token, round_id)
        if refused:
            return await round_page(request, round_id, {"form": refused}, status_code=409)
        return RedirectResponse(f"/health-checks/{round_id}", status_code=303)

    return api


def _utc(local: str) -> str:
    """A `datetime-local` value (read as UTC, as the form says) as an ISO instant; anything
    else is passed on for the service to name as invalid."""
    try:
        return datetime.fromisoformat(local).replace(tzinfo=UTC).isoformat()
    except ValueError:
        return local
