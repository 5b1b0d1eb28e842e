"""The knowledge service's HTTP API: artifacts, their versions, retirement, reuse, search."""

import html
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from services.knowledge.commands import KnowledgeCommands
from services.knowledge.domain.artifacts import minutes_id
from services.knowledge.domain.render import to_html
from services.knowledge.queries import Filters, KnowledgeQueries
from shared.auth import Caller
from shared.documents import Doc
from shared.events.catalog import (
    ArtifactKind,
    ArtifactPublished,
    ArtifactPublishedFields,
    ArtifactRevised,
    ArtifactRevisedFields,
    AuthorIds,
    Id,
    Tag,
)
from shared.http import NotInBody
from shared.idempotency import Once
from shared.keys import field_key

Note = Annotated[str, Field(min_length=1, max_length=2000)]


class PublishRequest(ArtifactPublishedFields):
    """A new artifact. Its id is made by the service unless given (an import names its own);
    the authors default to the token's member."""

    artifact_id: Id | None = None
    author_ids: AuthorIds | None = None
    version: NotInBody = None


class RevisionRequest(ArtifactRevisedFields):
    """What changes; fields left out keep their current value."""


class RetireRequest(BaseModel):
    model_config = {"extra": "forbid"}

    reason: Note
    superseded_by: Id | None = None


class ReuseRequest(BaseModel):
    model_config = {"extra": "forbid"}

    team: Annotated[str, Field(min_length=1, max_length=200)]
    context: Annotated[str, Field(max_length=2000)] = ""
    member_id: Id | None = Field(None, description="who reused it; defaults to the token's member")


class Accepted(BaseModel):
    event_id: str
    artifact_id: str
    version: int | None = None
    applied: bool = Field(description="true when the projection already shows it (wait=true)")


class Checked(BaseModel):
    """A dry run's answer: the command would be accepted as sent. Nothing was published."""

    dry_run: Literal[True] = True
    artifact_id: str
    version: int = Field(description="the version the command would make")

    @classmethod
    def of(cls, decided: ArtifactPublished | ArtifactRevised) -> "Checked":
        return cls(artifact_id=decided.artifact_id, version=decided.version)


@dataclass(frozen=True)
class DryRunnable:
    """How a command route that takes `dry_run` answers: 200 with what the command's check
    decided (publishing nothing), or 202 with the command run once per `Idempotency-Key`."""

    once: Once
    response: Response
    dry_run: bool

    async def __call__(
        self,
        check: Callable[[], Awaitable[ArtifactPublished | ArtifactRevised]],
        run: Callable[[], Awaitable[Accepted]],
    ) -> Accepted | Checked:
        if self.dry_run:
            self.response.status_code = status.HTTP_200_OK
            return Checked.of(await check())
        return await self.once(Accepted, run)


class Version(BaseModel):
    version: int
    editor_id: str
    at: datetime
    change_note: str
    title: str | None


class SearchHit(BaseModel):
    artifact_id: str
    title: str | None
    kind: str | None
    community_id: str | None
    status: str | None
    tags: list[str]
    author_ids: list[str]
    superseded_by: str | None
    score: float
    title_highlighted: str = Field(description="HTML: the title with matched words in <mark>")
    snippet: str = Field(description="HTML: an excerpt with matched words in <mark>")


class SearchResults(BaseModel):
    query: str
    terms: list[str] = Field(description="the query as indexed: folded, stemmed, stop words out")
    total: int
    page: int
    size: int
    pages: int
    items: list[SearchHit]


class Related(BaseModel):
    artifact_id: str
    title: str | None
    kind: str | None
    shared_tags: list[str]
    score: float


def _published(body: PublishRequest, caller: Caller) -> ArtifactPublished:
    """The event a publish request stands for: a new id unless given, the caller as author."""
    return ArtifactPublished.model_validate(
        {
            **body.model_dump(exclude={"version"}),
            "artifact_id": body.artifact_id or str(uuid.uuid4()),
            "author_ids": body.author_ids or [caller.member_id],
            "version": 1,
        }
    )


def _changes(body: RevisionRequest) -> dict[str, Any]:
    """The fields a revision request changes (sections as their models)."""
    changes = body.model_dump(exclude={"change_note"}, exclude_none=True)
    for section in ("decision", "case_study"):
        if getattr(body, section) is not None:
            changes[section] = getattr(body, section)
    return changes


def _page(doc: Doc) -> str:
    title = html.escape(str(doc.get("title") or ""))
    body = to_html(doc.get("body_markdown") or "")
    if doc.get("url"):
        url = html.escape(str(doc["url"]), quote=True)
        body += f'<p><a href="{url}" rel="noopener noreferrer">{url}</a></p>'
    successor = doc.get("superseded_by")
    if successor:
        body = f"<p>Retired; superseded by {html.escape(successor)}.</p>" + body
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
    )


def router(
    commands: KnowledgeCommands,
    queries: KnowledgeQueries,
    auth: Callable[..., Awaitable[Caller]],
    idempotent: Callable[..., Awaitable[Once]],
    wait_timeout_s: float = 10.0,
) -> APIRouter:
    api = APIRouter(tags=["artifacts"])
    CallerDep = Annotated[Caller, Depends(auth)]
    OnceDep = Annotated[Once, Depends(idempotent)]
    Wait = Annotated[bool, Query(description="return once the projection shows it")]
    DryRun = Annotated[
        bool,
        Query(
            description="check everything the command checks (the body, the caller's right to "
            "it, the artifact's state) and publish nothing: 200 `Checked`, or the refusal the "
            "command would get"
        ),
    ]

    async def dry_runnable(
        once: OnceDep, response: Response, dry_run: DryRun = False
    ) -> DryRunnable:
        return DryRunnable(once, response, dry_run)

    DryRunnableDep = Annotated[DryRunnable, Depends(dry_runnable)]

    command_route: dict[str, Any] = {
        "status_code": status.HTTP_202_ACCEPTED,
        "responses": {
            401: {"description": "no valid bearer token"},
            403: {"description": "not allowed for this member (problem+json with a `code`)"},
            404: {"description": "no such artifact"},
            409: {"description": "the artifact's state does not allow it (`code`)"},
        },
    }

    checkable: dict[str, Any] = {
        **command_route,
        "responses": {
            **command_route["responses"],
            200: {"model": Checked, "description": "dry_run=true: the command would be accepted"},
        },
    }

    async def accepted(
        event: Any, artifact_id: str, version: int | None, applied: bool
    ) -> Accepted:
        return Accepted(
            event_id=event.id, artifact_id=artifact_id, version=version, applied=applied
        )

    @api.post("/artifacts", **checkable)
    async def publish(
        body: PublishRequest, caller: CallerDep, answer: DryRunnableDep, wait: Wait = False
    ) -> Accepted | Checked:
        """Publish an artifact: a Markdown body or an external URL, authors, tags, community."""
        return await answer(
            lambda: commands.check_publish(_published(body, caller), caller.actor),
            lambda: publish_it(body, caller, wait),
        )

    async def publish_it(body: PublishRequest, caller: Caller, wait: bool) -> Accepted:
        data = _published(body, caller)
        event = await commands.publish(data, caller.actor)
        applied = wait and await commands.wait_for(
            data.artifact_id, lambda d: d.get("status") in ("published", "retired"), wait_timeout_s
        )
        return await accepted(event, data.artifact_id, 1, applied)

    @api.post("/artifacts/{artifact_id}/revisions", **checkable)
    async def revise(
        artifact_id: Id,
        body: RevisionRequest,
        caller: CallerDep,
        answer: DryRunnableDep,
        wait: Wait = False,
    ) -> Accepted | Checked:
        """A new version: every version is kept, with who changed it, when and why."""
        return await answer(
            lambda: commands.check_revise(
                artifact_id, _changes(body), body.change_note, caller.actor
            ),
            lambda: revise_it(artifact_id, body, caller, wait),
        )

    async def revise_it(
        artifact_id: str, body: RevisionRequest, caller: Caller, wait: bool
    ) -> Accepted:
        changes = _changes(body)
        event = await commands.revise(artifact_id, changes, body.change_note, caller.actor)
        version = int(event.data.get("version", 1))
        applied = wait and await commands.wait_for(
            artifact_id, lambda d: int(d.get("version", 0)) >= version, wait_timeout_s
        )
        return await accepted(event, artifact_id, version, applied)

    @api.post("/artifacts/{artifact_id}/retire", **command_route)
    async def retire(
        artifact_id: Id, body: RetireRequest, caller: CallerDep, wait: Wait = False
    ) -> Accepted:
        """Retire it, with a reason and optionally the artifact that supersedes it."""
        event = await commands.retire(artifact_id, body.reason, body.superseded_by, caller.actor)
        applied = wait and await commands.wait_for(
            artifact_id, lambda d: d.get("status") == "retired", wait_timeout_s
        )
        return await accepted(event, artifact_id, None, applied)

    @api.post("/artifacts/{artifact_id}/reuses", **command_route)
    async def reuse(
        artifact_id: Id, body: ReuseRequest, caller: CallerDep, once: OnceDep, wait: Wait = False
    ) -> Accepted:
        """Record that a team adopted the artifact, and in what context."""
        return await once(Accepted, lambda: reuse_it(artifact_id, body, caller, wait))

    async def reuse_it(
        artifact_id: str, body: ReuseRequest, caller: Caller, wait: bool
    ) -> Accepted:
        member = body.member_id or caller.member_id
        event = await commands.reuse(artifact_id, member, body.team, body.context, caller.actor)
        key = field_key(event.id)
        applied = wait and await commands.wait_for(
            artifact_id, lambda d: key in (d.get("reuses") or {}), wait_timeout_s
        )
        return await accepted(event, artifact_id, None, applied)

    @api.get(
        "/artifacts/{artifact_id}",
        responses={200: {"content": {"text/html": {}}}, 404: {"description": "no such artifact"}},
    )
    async def get_artifact(
        artifact_id: Id,
        request: Request,
        format: Annotated[Literal["markdown", "html"] | None, Query()] = None,
    ) -> Response:
        """The artifact in Markdown; with `format=html` also as safe HTML (`body_html`), and
        with `Accept: text/html` as an HTML page."""
        doc = await queries.artifact(artifact_id)
        if format is None and "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(_page(doc))
        if format == "html":
            doc["body_html"] = to_html(doc.get("body_markdown") or "")
        return JSONResponse(jsonable_encoder(doc))

    @api.get("/artifacts/{artifact_id}/versions")
    async def versions(artifact_id: Id) -> list[Version]:
        return [Version.model_validate(v) for v in await queries.versions(artifact_id)]

    @api.get(
        "/artifacts/{artifact_id}/diff",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/x-diff": {}}}},
    )
    async def diff(
        artifact_id: Id,
        from_: Annotated[int, Query(alias="from", ge=1)],
        to: Annotated[int, Query(ge=1)],
    ) -> PlainTextResponse:
        """A unified diff of title, summary and body between two versions."""
        text = await queries.diff(artifact_id, from_, to)
        return PlainTextResponse(text, media_type="text/x-diff")

    @api.get("/artifacts/{artifact_id}/related")
    async def related(
        artifact_id: Id, limit: Annotated[int, Query(ge=1, le=50)] = 10
    ) -> list[Related]:
        """Artifacts sharing tags or words with this one, best first."""
        return [Related.model_validate(r) for r in await queries.related(artifact_id, limit)]

    @api.get("/sessions/{session_id}/minutes")
    async def minutes(session_id: Id) -> Response:
        """The minutes of a held session: a stub until its facilitator fills it."""
        return JSONResponse(jsonable_encoder(await queries.artifact(minutes_id(session_id))))

    @api.get("/search", tags=["search"])
    async def search(
        q: Annotated[str, Query(min_length=1, max_length=500)],
        kind: ArtifactKind | None = None,
        tag: Tag | None = None,
        community: Id | None = None,
        author: Id | None = None,
        status: Literal["published", "retired", "all"] = "published",
        page: Annotated[int, Query(ge=1, le=1000)] = 1,
        size: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> SearchResults:
        """Full-text search over title, summary, body and tags, most relevant first."""
        filters = Filters(kind.value if kind else None, tag, community, author, status)
        return SearchResults.model_validate(await queries.search(q, filters, page, size))

    return api
