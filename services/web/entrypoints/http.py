"""The pages: thin routes that read the viewer, call a page query or command and render.

Every page works without JavaScript (plain links and forms); with it, htmx swaps in search
results as the member types and a form's answer in place."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.web.commands.pages import KudosForm, PageCommands
from services.web.domain.forms import LEVELS, preferences_body
from services.web.domain.health import ARROW_SIGNS, shown, to_csv
from services.web.domain.text import body_html, diff_lines, highlights_only, safe_url
from services.web.entrypoints.security import CSRF_FIELD, CSRF_HEADER, Sessions, Viewer
from services.web.queries.pages import LEADERBOARD_PERIODS, NotFound, PageQueries, Unavailable
from shared.auth import is_member_id
from shared.calendar import session_ics
from shared.events.catalog import Id

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
SEARCH_KINDS = (
    "pattern",
    "anti_pattern",
    "decision_log",
    "template",
    "playbook",
    "tutorial",
    "reference",
    "recording",
    "other",
)


class CsrfRefused(Exception):
    """A state-changing request without this site's CSRF token."""


class SignInFirst(Exception):
    """A members' page or form asked for by a visitor who is not signed in: they are sent to
    sign in, and back to `target` after."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def templates(sessions: Sessions, dev_sign_in: bool, oidc: bool = False) -> Jinja2Templates:
    pages = Jinja2Templates(directory=str(TEMPLATES))  # autoescapes .html
    pages.env.filters["safe_url"] = safe_url
    pages.env.filters["highlights"] = highlights_only
    pages.env.filters["body_html"] = body_html
    pages.env.filters["diff_lines"] = diff_lines
    pages.env.filters["metric"] = shown
    pages.env.filters["percent"] = lambda share: f"{float(share) * 100:.0f}%"
    pages.env.globals["arrow_signs"] = ARROW_SIGNS
    pages.env.globals["dev_sign_in"] = dev_sign_in
    pages.env.globals["oidc_sign_in"] = oidc
    pages.env.globals["csrf_field"] = CSRF_FIELD
    return pages


def local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this site only, never another host."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc or "\\" in target else target


class PageKit:
    """What every page route does: render with the viewer and a CSRF token, check a form's
    token, and send a visitor who is not signed in to the sign-in page and back (raising
    `CsrfRefused` and `SignInFirst`, which `error_pages` answers)."""

    def __init__(self, sessions: Sessions, pages: Jinja2Templates) -> None:
        self.sessions = sessions
        self.pages = pages

    def render(
        self, request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        viewer = self.sessions.viewer(request)
        base = {"viewer": viewer, "csrf_token": self.sessions.csrf_token(request)}
        return self.pages.TemplateResponse(
            request, name, {**base, **context}, status_code=status_code
        )

    async def checked_form(self, request: Request) -> dict[str, str]:
        form = await request.form()
        sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
        if not self.sessions.csrf_ok(request, sent if isinstance(sent, str) else None):
            raise CsrfRefused
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def signed_in(self, request: Request) -> Viewer:
        viewer = self.sessions.viewer(request)
        if viewer is None:
            raise SignInFirst(
                str(request.url.path) + ("?" + request.url.query if request.url.query else "")
            )
        return viewer

    async def signed_in_form(self, request: Request) -> tuple[Viewer, dict[str, str]]:
        """Who sent the form, and its fields: its CSRF token is checked before anything else,
        a token from another site is refused even when the sender is not signed in."""
        fields = await self.checked_form(request)
        return self.signed_in(request), fields


def router(
    queries: PageQueries, commands: PageCommands, sessions: Sessions, pages: Jinja2Templates
) -> APIRouter:
    api = APIRouter(default_response_class=HTMLResponse)
    kit = PageKit(sessions, pages)
    render, checked_form, signed_in = kit.render, kit.checked_form, kit.signed_in
    signed_in_form = kit.signed_in_form

    @api.get("/")
    async def home(request: Request) -> Response:
        return render(request, "home.html", {"home": await queries.home()})

    @api.get("/communities/{community_id}")
    async def community(
        request: Request, community_id: Id, period: Annotated[str, Query(max_length=16)] = "month"
    ) -> Response:
        return await community_page(request, community_id, period)

    async def community_page(
        request: Request, community_id: str, period: str = "month", refusal: str | None = None
    ) -> Response:
        """The community page; with `refusal`, what the service said to an action from it."""
        page = await queries.community(community_id, period)
        context = {
            "page": page,
            "periods": LEADERBOARD_PERIODS,
            "kinds": SEARCH_KINDS,
            "q": "",
            "refusal": refusal,
        }
        return render(request, "community.html", context, status_code=422 if refusal else 200)

    async def member_acts(
        request: Request,
        events_path: str,
        page: Callable[[str], Awaitable[Response]],
        back_to: str,
    ) -> Response:
        """The signed-in member acts on themselves through the events service (`POST` with their
        id): back to the page on success, the page with the refusal otherwise."""
        viewer, _ = await signed_in_form(request)
        body = {"member_id": viewer.member_id}
        refusal = await commands.act(viewer.token, "events", events_path, body)
        if refusal:
            return await page(refusal)
        return RedirectResponse(back_to, status_code=303)

    @api.post("/communities/{community_id}/join")
    async def join(request: Request, community_id: Id) -> Response:
        return await member_acts(
            request,
            f"/communities/{community_id}/members",
            lambda refusal: community_page(request, community_id, refusal=refusal),
            f"/communities/{community_id}",
        )

    @api.get("/communities/{community_id}/search")
    async def search(
        request: Request,
        community_id: Id,
        q: Annotated[str, Query(max_length=500)] = "",
        kind: Annotated[str, Query(max_length=32)] = "",
    ) -> Response:
        kind = kind if kind in SEARCH_KINDS else ""
        results = await queries.search(community_id, q, kind or None) if q.strip() else None
        context = {
            "community_id": community_id,
            "q": q,
            "kind": kind,
            "kinds": SEARCH_KINDS,
            "results": results,
        }
        if request.headers.get("hx-request"):
            return render(request, "_search_results.html", context)
        return render(request, "search.html", context)

    @api.get("/communities/{community_id}/health")
    async def health(request: Request, community_id: Id) -> Response:
        page = await queries.health(community_id)
        data = page.board.value.chart_data() if page.board.value else None
        return render(request, "health.html", {"page": page, "chart_data": data})

    @api.get("/communities/{community_id}/health.csv", response_class=PlainTextResponse)
    async def health_csv(community_id: Id) -> Response:
        page = await queries.health(community_id)
        if page.board.value is None:
            return PlainTextResponse(f"{page.board.missing}\n", status_code=503)
        return Response(
            to_csv(page.board.value),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{community_id}-health.csv"'},
        )

    @api.get("/sessions/{session_id}")
    async def session(request: Request, session_id: Id) -> Response:
        return await session_page(request, session_id)

    async def session_page(
        request: Request, session_id: str, refusal: str | None = None
    ) -> Response:
        viewer = sessions.viewer(request)
        page = await queries.session(session_id, viewer.token if viewer else None)
        context = {"page": page, "refusal": refusal}
        return render(request, "session.html", context, status_code=422 if refusal else 200)

    @api.post("/sessions/{session_id}/check-in")
    async def check_in(request: Request, session_id: Id) -> Response:
        return await member_acts(
            request,
            f"/sessions/{session_id}/check-ins",
            lambda refusal: session_page(request, session_id, refusal=refusal),
            f"/sessions/{session_id}",
        )

    @api.get("/sessions/{session_id}/calendar.ics")
    async def session_calendar(session_id: Id) -> Response:
        session = await queries.session_only(session_id)
        if not session.get("starts_at"):
            raise NotFound(session_id)  # known only from a holding reported elsewhere
        body = session_ics(
            dict(session),
            method="PUBLISH",
            sequence=0,
            stamp=datetime.now(UTC),
        )
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{session_id}.ics"'},
        )

    @api.get("/artifacts/{artifact_id}")
    async def artifact(
        request: Request,
        artifact_id: Id,
        from_: Annotated[int | None, Query(alias="from", ge=1, le=100_000)] = None,
        to: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    ) -> Response:
        compare = (from_, to) if from_ and to and from_ != to else None
        page = await queries.artifact(artifact_id, compare)
        return render(request, "artifact.html", {"page": page})

    @api.get("/members/{member_id}")
    async def member(request: Request, member_id: Id) -> Response:
        viewer = sessions.viewer(request)
        page = await queries.member(member_id, viewer.token if viewer else None)
        return render(request, "member.html", {"page": page})

    @api.get("/me")
    async def me(request: Request, saved: bool = False) -> Response:
        viewer = signed_in(request)
        page = await queries.me(viewer.member_id, viewer.token)
        context = {"page": page, "levels": LEVELS, "errors": {}, "saved": saved, "form": None}
        return render(request, "me.html", context)

    @api.post("/me/preferences")
    async def save_preferences(request: Request) -> Response:
        viewer, fields = await signed_in_form(request)
        page = await queries.me(viewer.member_id, viewer.token)
        shown = [str(c["community_id"]) for c in page.communities.value or []]
        body = preferences_body(fields, shown)
        errors = await commands.save_preferences(viewer.token, viewer.member_id, body)
        if not errors:
            return RedirectResponse("/me?saved=true", status_code=303)
        context = {"page": page, "levels": LEVELS, "errors": errors, "saved": False, "form": body}
        return render(request, "me.html", context, status_code=422)

    @api.get("/review")
    async def review(
        request: Request, quarter: Annotated[str, Query(max_length=16)] = ""
    ) -> Response:
        return render(request, "review.html", {"review": await queries.review(quarter)})

    @api.get("/kudos")
    async def kudos_form(
        request: Request,
        to: Annotated[str, Query(max_length=200)] = "",
        community: Annotated[str, Query(max_length=64)] = "",
    ) -> Response:
        signed_in(request)
        form = KudosForm(to=to, community_id=community)
        return render(request, "kudos.html", {"form": form, "errors": {}, "key": str(uuid.uuid4())})

    @api.post("/kudos")
    async def give_kudos(request: Request) -> Response:
        viewer, fields = await signed_in_form(request)
        form = KudosForm(
            to=fields.get("to_ids", "")[:400],
            community_id=fields.get("community_id", "")[:64],
            value_tag=fields.get("value_tag", "")[:64],
            message=fields.get("message", "")[:2000],
        )
        key = fields.get("idempotency_key", "")[:64]
        outcome = await commands.give_kudos(viewer.token, form, key)
        context = {"form": form, "errors": outcome.errors, "kudos": outcome.kudos, "key": key}
        if outcome.errors:
            # htmx swaps only 2xx answers; a browser without it shows the 422 page as it is.
            status = 200 if request.headers.get("hx-request") else 422
            return render(request, "kudos.html", context, status_code=status)
        context["key"] = str(uuid.uuid4())  # the next kudos is another command
        return render(request, "kudos.html", context)

    @api.get("/sign-in")
    async def sign_in_form(
        request: Request, next: Annotated[str, Query(max_length=500)] = "/"
    ) -> Response:
        return render(
            request, "sign_in.html", {"next": local_path(next), "errors": {}, "member_id": ""}
        )

    @api.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        fields = await checked_form(request)
        member_id = fields.get("member_id", "").strip()[:64]
        target = local_path(fields.get("next"))
        refusal = None
        if not pages.env.globals["dev_sign_in"]:
            refusal = (
                403,
                "form",
                "development sign-in is off here; sign in with your organisation",
            )
        elif not is_member_id(member_id):
            refusal = (
                422,
                "member_id",
                "a member id: letters, digits, '.', '_' or '-', at most 64",
            )
        if refusal:
            code, field, message = refusal
            context = {"next": target, "member_id": member_id, "errors": {field: message}}
            return render(request, "sign_in.html", context, status_code=code)
        response = RedirectResponse(target, status_code=303)
        sessions.sign_in(response, member_id)
        return response

    @api.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        await checked_form(request)
        response = RedirectResponse("/", status_code=303)
        sessions.sign_out(response)
        return response

    return api


def error_pages(
    pages: Jinja2Templates, sessions: Sessions
) -> dict[type[Exception] | int, Callable[[Request, Any], Awaitable[Response]]]:
    """HTML answers for what a route cannot show: an unknown page, a form without its CSRF
    token, a request the routes refuse; and the way to sign in for a visitor who is not."""

    def page(request: Request, status: int, title: str, detail: str) -> Response:
        context = {
            "viewer": sessions.viewer(request),
            "csrf_token": sessions.csrf_token(request),
            "title": title,
            "detail": detail,
        }
        answer = pages.TemplateResponse(request, "error.html", context, status_code=status)
        if request.headers.get("hx-request"):
            # An htmx request meant to swap a part: the refusal replaces the whole page instead.
            answer.headers.update(
                {"hx-retarget": "main", "hx-reselect": "main", "hx-reswap": "outerHTML"}
            )
        return answer

    async def not_found(request: Request, exc: Any) -> Response:
        return page(request, 404, "Not found", "There is no such page here.")

    async def csrf(request: Request, exc: Any) -> Response:
        return page(
            request,
            403,
            "This form was not sent from this site",
            "It came without this site's form token (or an old one). Reload the page and send "
            "it again.",
        )

    async def sign_in_first(request: Request, exc: Any) -> Response:
        return RedirectResponse(f"/sign-in?next={quote(exc.target)}", status_code=303)

    async def unavailable(request: Request, exc: Any) -> Response:
        return page(request, 503, "Not available right now", str(exc))

    async def invalid(request: Request, exc: Any) -> Response:
        return page(request, 422, "That address is not valid", "Check the link and try again.")

    return {
        NotFound: not_found,
        404: not_found,
        CsrfRefused: csrf,
        SignInFirst: sign_in_first,
        RequestValidationError: invalid,
        Unavailable: unavailable,
    }
