"""`copctl knowledge import`: a directory of Markdown files, published as knowledge artifacts.

Many communities keep their knowledge as a Git repository of Markdown files. Each file becomes
one artifact of the knowledge service, addressed by an id derived from the community and the
file's path (`kb-` + 24 hex digits of a SHA-1), so that running the import again finds the
artifacts it made: a file that changed is revised, one that did not is left alone.

The work is in three parts:

- reading (`read_tree`, `desired_artifact`): a file and its front matter as the artifact it
  should be, or the reason it cannot be one; pure, no I/O besides reading the files.
- planning (`plan`): the artifact a file should be against the one the service has (or none):
  publish, revise (with only the fields that changed), leave alone, or skip (retired).
- calling the service (`import_tree`): GET each artifact, then POST what the plan says, with an
  `httpx.AsyncClient` the caller gives (the CLI's, or a test's in-process client). A dry run
  POSTs the same with `?dry_run=true`: the service checks all it would check and publishes
  nothing, so a dry run refuses what the real run would.
"""

import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import frontmatter
import httpx
from pydantic import TypeAdapter, ValidationError

from copctl.operator_http import ServiceError, transport_failure
from shared.events.catalog import ArtifactKind, ArtifactPublished, Id

MARKDOWN_SUFFIXES = (".md", ".markdown")
DEFAULT_KIND = ArtifactKind.GUIDE
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
TAG_MAX_LENGTH = 50
COMPARED = ("title", "summary", "body_markdown", "tags")
"""The fields a re-run compares with the service's artifact, and revises when they differ."""

_ID: TypeAdapter[str] = TypeAdapter(Id)
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_TITLE_HEADING = re.compile(r"^\s{0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")

Result = Literal["published", "revised", "unchanged", "skipped", "failed"]
RESULTS: tuple[Result, ...] = ("published", "revised", "unchanged", "skipped", "failed")


class ImportAborted(ServiceError):
    """The import cannot go on at all (service unreachable, token refused, bad arguments)."""


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Desired:
    """A file as the artifact it should be."""

    path: str
    """The file's path relative to the imported directory, with `/` separators."""
    artifact_id: str
    community_id: str
    kind: str
    title: str
    summary: str
    body_markdown: str
    tags: tuple[str, ...]
    author_ids: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    def publish_body(self) -> dict[str, Any]:
        """The body of `POST /artifacts`."""
        return {
            "artifact_id": self.artifact_id,
            "community_id": self.community_id,
            "kind": self.kind,
            "title": self.title,
            "summary": self.summary,
            "body_markdown": self.body_markdown,
            "author_ids": list(self.author_ids),
            "tags": list(self.tags),
        }

    def value(self, name: str) -> Any:
        """A compared field as the service's JSON has it (tags as a list)."""
        value = getattr(self, name)
        return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Invalid:
    """A file that cannot become an artifact, and why."""

    path: str
    reason: str


def artifact_id_for(community_id: str, relative_path: str) -> str:
    """The artifact id of a file: the same on every run for the same community and path."""
    digest = hashlib.sha1(f"{community_id}/{relative_path}".encode()).hexdigest()
    return f"kb-{digest[:24]}"


def markdown_files(root: Path) -> list[Path]:
    """The Markdown files under `root`, sorted; hidden files and directories (`.git`) left out."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            Path(folder) / name
            for name in files
            if not name.startswith(".") and name.lower().endswith(MARKDOWN_SUFFIXES)
        )
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def normalise_tags(raw: Any) -> tuple[tuple[str, ...], list[str]]:
    """Front-matter tags as the service accepts them (lowercase, spaces as `-`), in order and
    without repeats, and a warning for each one dropped because it still does not fit."""
    if raw is None:
        return (), []
    items: Iterable[Any]
    if isinstance(raw, str):
        items = raw.split(",")
    elif isinstance(raw, list | tuple):
        items = raw
    else:
        return (), [f"tags ignored: expected a list or a comma-separated string, got {raw!r}"]
    tags: list[str] = []
    warnings: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            warnings.append(f"tag {item!r} dropped: not a word")
            continue
        tag = re.sub(r"\s+", "-", str(item).strip().lower())
        if not tag:
            continue
        if len(tag) > TAG_MAX_LENGTH:
            warnings.append(f"tag {item!r} dropped: longer than {TAG_MAX_LENGTH} characters")
        elif not TAG_PATTERN.match(tag):
            warnings.append(
                f"tag {item!r} dropped: only a-z, 0-9, '-' and '_' (starting with a letter "
                "or digit) are allowed"
            )
        elif tag not in tags:
            tags.append(tag)
    return tuple(tags), warnings


def normalise_kind(raw: Any) -> str:
    """`Decision log`, `decision-log` and `decision_log` are all `decision_log`."""
    if raw is None:
        return DEFAULT_KIND.value
    if not isinstance(raw, str):
        raise ValueError(f"kind must be text, got {raw!r}")
    kind = re.sub(r"[\s-]+", "_", raw.strip().lower())
    if kind not in {k.value for k in ArtifactKind}:
        raise ValueError(f"kind {raw!r} is not one of {', '.join(k.value for k in ArtifactKind)}")
    return kind


def title_heading(body: str) -> str | None:
    """The text of the first `# ` heading outside code blocks, if any."""
    fenced = False
    for line in body.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced and (match := _TITLE_HEADING.match(line)):
            return match.group(1).strip()
    return None


def _without_title_heading(body: str, title: str) -> str:
    """The body without its first line when that line is the `# ` heading of the title: the
    service shows the title above the body, which would otherwise repeat it."""
    first, _, rest = body.partition("\n")
    match = _TITLE_HEADING.match(first)
    if match and match.group(1).strip() == title:
        return rest.lstrip("\n")
    return body


def _text(meta: Mapping[str, Any], name: str) -> str | None:
    value = meta.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{name} must be text, got {value!r}")
    return str(value).strip()


def _authors(raw: Any, member_id: str) -> list[str]:
    if raw is None or raw == [] or raw == "":
        return [member_id]
    if isinstance(raw, str):
        return [a.strip() for a in raw.split(",") if a.strip()]
    if isinstance(raw, list) and all(isinstance(a, str) for a in raw):
        return list(dict.fromkeys(a.strip() for a in raw if a.strip())) or [member_id]
    raise ValueError(f"authors must be a list of member ids, got {raw!r}")


def _validation_reason(error: ValidationError) -> str:
    problems = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "file"
        given = e.get("input")
        shown = f" (got {given!r:.60})" if isinstance(given, str | int) else ""
        problems.append(f"{where}: {e['msg']}{shown}")
    return "; ".join(problems)


def desired_artifact(
    text: str, relative_path: str, community_id: str, member_id: str
) -> Desired | Invalid:
    """What a Markdown file should be as an artifact of `community_id`, imported by `member_id`.

    Front matter (YAML) may give `kind` (default `guide`), `title`, `summary`, `tags` and
    `authors` (member ids; default the importing member). Without a title, the first `# `
    heading is the title, else the file's name without its suffix. A leading `# ` heading that
    repeats the title is left out of the body.
    """
    try:
        meta, content = frontmatter.parse(text)
    except Exception as e:  # YAML errors of every kind, and front matter that is not a mapping
        return Invalid(relative_path, f"front matter is not valid YAML: {_one_line(e)}")
    try:
        kind = normalise_kind(meta.get("kind"))
        title = _text(meta, "title") or title_heading(content) or Path(relative_path).stem
        summary = _text(meta, "summary") or ""
        authors = _authors(meta.get("authors", meta.get("author")), member_id)
    except ValueError as e:
        return Invalid(relative_path, str(e))
    tags, warnings = normalise_tags(meta.get("tags"))
    desired = Desired(
        path=relative_path,
        artifact_id=artifact_id_for(community_id, relative_path),
        community_id=community_id,
        kind=kind,
        title=title,
        summary=summary,
        body_markdown=_without_title_heading(content, title),
        tags=tags,
        author_ids=tuple(authors),
        warnings=tuple(warnings),
    )
    try:
        ArtifactPublished.model_validate(desired.publish_body())
    except ValidationError as e:
        return Invalid(relative_path, _validation_reason(e))
    return desired


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def read_tree(root: Path, community_id: str, member_id: str) -> list[Desired | Invalid]:
    """Every Markdown file under `root` as the artifact it should be, or why it cannot be one."""
    found: list[Desired | Invalid] = []
    for path in markdown_files(root):
        relative = path.relative_to(root).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            found.append(Invalid(relative, "not UTF-8 text"))
            continue
        except OSError as e:
            found.append(Invalid(relative, f"cannot read it: {e.strerror or e}"))
            continue
        found.append(desired_artifact(text, relative, community_id, member_id))
    return found


# --- planning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What to do with one file: `publish` (body of POST /artifacts), `revise` (body of POST
    /artifacts/{id}/revisions: the change note and only the changed fields), `unchanged`, or
    `skip` (with the reason)."""

    action: Literal["publish", "revise", "unchanged", "skip"]
    body: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    notes: tuple[str, ...] = ()


def _as_current(name: str, value: Any) -> Any:
    if name == "summary":
        return value or ""
    if name == "tags":
        return list(value or [])
    return value


def plan(desired: Desired, current: Mapping[str, Any] | None) -> Plan:
    """The file against the service's artifact (`GET /artifacts/{id}`, None when there is none)."""
    if current is None:
        return Plan("publish", desired.publish_body())
    if current.get("status") == "retired":
        successor = current.get("superseded_by")
        reason = f"{desired.artifact_id} is retired" + (
            f" (superseded by {successor})" if successor else ""
        )
        return Plan("skip", reason=reason + "; left alone")
    notes = []
    if current.get("kind") != desired.kind:
        notes.append(
            f"kind is {current.get('kind')} in the service and {desired.kind} in the file; "
            "a revision cannot change the kind"
        )
    if list(current.get("author_ids") or []) != list(desired.author_ids):
        notes.append("the authors differ from the file's; a revision cannot change the authors")
    changes = {
        name: desired.value(name)
        for name in COMPARED
        if _as_current(name, current.get(name)) != desired.value(name)
    }
    if not changes:
        return Plan("unchanged", notes=tuple(notes))
    body = {"change_note": f"import: {desired.path} changed", **changes}
    return Plan("revise", body, notes=tuple(notes))


# --- calling the service -------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    path: str
    result: Result
    artifact_id: str | None = None
    detail: str = ""
    warnings: tuple[str, ...] = ()


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    dry_run: bool = False

    @property
    def counts(self) -> dict[Result, int]:
        counted = Counter(o.result for o in self.outcomes)
        return {result: counted.get(result, 0) for result in RESULTS}

    @property
    def failed(self) -> bool:
        return self.counts["failed"] > 0

    def summary(self) -> str:
        counts = ", ".join(f"{result} {n}" for result, n in self.counts.items())
        return f"dry run, nothing sent: {counts}" if self.dry_run else counts


def problem_reason(response: httpx.Response) -> str:
    """A refusal (problem+json) as one line: status, title or code, detail, field errors."""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        return f"{response.status_code} {response.reason_phrase}"
    head = f"{response.status_code} {problem.get('code') or problem.get('title') or ''}".strip()
    parts = [head]
    if problem.get("detail"):
        parts.append(str(problem["detail"]))
    for error in problem.get("errors") or []:
        if isinstance(error, dict):
            parts.append(f"{error.get('field')}: {error.get('message')}")
    return ": ".join(parts[:2]) + "".join(f"; {p}" for p in parts[2:])


class _Service:
    """The few calls the import makes; transport failures and 401 abort the whole import."""

    def __init__(self, client: httpx.AsyncClient, headers: Mapping[str, str] | None) -> None:
        self._client = client
        self._headers = dict(headers or {})

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, path, headers=self._headers, **kw)
        except httpx.TransportError as e:
            raise ImportAborted(
                transport_failure(
                    "knowledge service",
                    self._client.base_url,
                    e,
                    url_option="--url or KNOWLEDGE_URL",
                )
            ) from e
        if response.status_code == 401:
            raise ImportAborted(
                f"the knowledge service refused the token ({problem_reason(response)}): is "
                "AUTH_TOKEN_SECRET the one the service uses?"
            )
        return response


async def apply_plan(
    service: _Service, desired: Desired, wanted: Plan, *, dry_run: bool = False
) -> Outcome:
    """Carry out one file's plan. A dry run asks the service to check the same request
    (`?dry_run=true`: the body, the member's right to it, the artifact's state) and publish
    nothing, so it fails where the real run would."""
    warnings = desired.warnings + wanted.notes
    if wanted.action == "unchanged":
        return Outcome(desired.path, "unchanged", desired.artifact_id, warnings=warnings)
    if wanted.action == "skip":
        return Outcome(desired.path, "skipped", desired.artifact_id, wanted.reason, warnings)
    mode = "dry_run=true" if dry_run else "wait=true"
    if wanted.action == "publish":
        response = await service.call("POST", f"/artifacts?{mode}", json=wanted.body)
        result: Result = "published"
        detail = desired.title
    else:
        path = f"/artifacts/{quote(desired.artifact_id, safe='')}/revisions?{mode}"
        response = await service.call("POST", path, json=wanted.body)
        result = "revised"
        changed = [k for k in wanted.body if k != "change_note"]
        detail = "changed: " + ", ".join(changed)
    if dry_run:
        if response.status_code != 200:
            reason = problem_reason(response)
            if response.status_code == 202:  # a service too old to know dry runs
                reason = "the service does not know dry runs and accepted the request"
            return Outcome(desired.path, "failed", desired.artifact_id, reason, warnings)
        changed = [k for k in wanted.body if k in COMPARED] if result == "revised" else []
        detail = f"dry run: would {wanted.action}" + (": " + ", ".join(changed) if changed else "")
        return Outcome(desired.path, result, desired.artifact_id, detail, warnings)
    if response.status_code != 202:
        return Outcome(
            desired.path, "failed", desired.artifact_id, problem_reason(response), warnings
        )
    accepted = response.json()
    if not accepted.get("applied"):
        warnings += ("accepted, but the service did not show it yet; it will shortly",)
    if accepted.get("version"):
        detail += f" (version {accepted['version']})"
    return Outcome(desired.path, result, desired.artifact_id, detail, warnings)


async def import_one(service: _Service, desired: Desired, *, dry_run: bool = False) -> Outcome:
    path = f"/artifacts/{quote(desired.artifact_id, safe='')}"
    response = await service.call("GET", path)
    if response.status_code == 404:
        current = None
    elif response.status_code == 200:
        current = response.json()
    else:
        return Outcome(
            desired.path, "failed", desired.artifact_id, problem_reason(response), desired.warnings
        )
    return await apply_plan(service, desired, plan(desired, current), dry_run=dry_run)


def check_ids(community_id: str, member_id: str) -> None:
    for name, value in (("--community", community_id), ("--as", member_id)):
        try:
            _ID.validate_python(value)
        except ValidationError as e:
            reason = _validation_reason(e)
            raise ImportAborted(f"{name} {value!r} is not a valid id: {reason}", 2) from None


async def import_tree(
    client: httpx.AsyncClient,
    root: Path,
    community_id: str,
    member_id: str,
    *,
    headers: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> Report:
    """Publish or revise an artifact for every Markdown file under `root`.

    `client` has the service's base URL and, unless `headers` are given for each request, the
    bearer token of the member (or admin) the import acts as. A file that cannot be imported is
    reported with its reason and the others go on; ImportAborted when none can be (the service
    is unreachable or refuses the token).
    """
    check_ids(community_id, member_id)
    service = _Service(client, headers)
    report = Report(dry_run=dry_run)
    for found in read_tree(root, community_id, member_id):
        if isinstance(found, Invalid):
            report.outcomes.append(Outcome(found.path, "failed", None, found.reason))
        else:
            report.outcomes.append(await import_one(service, found, dry_run=dry_run))
    return report


def lines(report: Report) -> list[tuple[str, str]]:
    """The report as (style, line) pairs: one line per file, its warnings, then the totals."""
    styles = {"published": "green", "revised": "cyan", "unchanged": "", "skipped": "yellow",
              "failed": "red"}  # fmt: skip
    out: list[tuple[str, str]] = []
    for o in report.outcomes:
        text = f"{o.result:<10} {o.path}"
        if o.artifact_id:
            text += f"  [{o.artifact_id}]"
        if o.detail:
            text += f"  {o.detail}"
        out.append((styles[o.result], text))
        out.extend(("yellow", f"{'':<10}   warning: {w}") for w in o.warnings)
    out.append(("bold", report.summary()))
    return out
