"""`copctl knowledge import`: a Markdown file as the artifact it should be, and what a re-run does
with the artifact the service has (publish, revise only what changed, leave alone, skip)."""

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from copctl.cli import app
from copctl.knowledge import (
    Desired,
    ImportAborted,
    Invalid,
    Outcome,
    Report,
    artifact_id_for,
    desired_artifact,
    import_tree,
    lines,
    markdown_files,
    normalise_tags,
    plan,
    problem_reason,
    read_tree,
    title_heading,
)
from shared.events.catalog import ArtifactPublished

COMMUNITY = "platform-guild"
MEMBER = "m-ada"


def desired(text: str, path: str = "guides/onboarding.md") -> Desired:
    found = desired_artifact(text, path, COMMUNITY, MEMBER)
    assert isinstance(found, Desired), found
    return found


def invalid(text: str, path: str = "guides/onboarding.md") -> Invalid:
    found = desired_artifact(text, path, COMMUNITY, MEMBER)
    assert isinstance(found, Invalid), found
    return found


# --- ids ---------------------------------------------------------------------------------------


def test_artifact_id_is_stable_per_community_and_path_and_a_valid_id() -> None:
    first = artifact_id_for(COMMUNITY, "guides/onboarding.md")
    assert first == artifact_id_for(COMMUNITY, "guides/onboarding.md")
    assert first.startswith("kb-")
    assert len(first) == 3 + 24
    assert first != artifact_id_for(COMMUNITY, "guides/offboarding.md")
    assert first != artifact_id_for("other-guild", "guides/onboarding.md")
    ArtifactPublished.model_validate(
        {"artifact_id": first, "community_id": COMMUNITY, "kind": "guide", "title": "t",
         "body_markdown": "", "author_ids": [MEMBER]}
    )  # fmt: skip


# --- reading a file ----------------------------------------------------------------------------


def test_front_matter_gives_kind_title_summary_tags_and_authors() -> None:
    found = desired(
        "---\n"
        "kind: pattern\n"
        "title: Strangler fig\n"
        "summary: Replace a legacy system piece by piece.\n"
        "tags: [Legacy, Migration Patterns, legacy]\n"
        "authors: [m-ada, m-grace]\n"
        "owner: someone\n"
        "---\n"
        "# Strangler fig\n\nRoute calls to the new system one by one.\n"
    )
    assert found.kind == "pattern"
    assert found.title == "Strangler fig"
    assert found.summary == "Replace a legacy system piece by piece."
    assert found.tags == ("legacy", "migration-patterns")
    assert found.author_ids == ("m-ada", "m-grace")
    # the heading repeating the title is not repeated in the body
    assert found.body_markdown == "Route calls to the new system one by one."
    assert found.warnings == ()
    assert found.artifact_id == artifact_id_for(COMMUNITY, "guides/onboarding.md")
    assert found.publish_body() == {
        "artifact_id": found.artifact_id,
        "community_id": COMMUNITY,
        "kind": "pattern",
        "title": "Strangler fig",
        "summary": "Replace a legacy system piece by piece.",
        "body_markdown": "Route calls to the new system one by one.",
        "author_ids": ["m-ada", "m-grace"],
        "tags": ["legacy", "migration-patterns"],
    }


def test_without_front_matter_the_first_title_heading_is_the_title_and_kind_is_guide() -> None:
    found = desired("\n\n# On-call handbook\n\nWho to page, and when.\n\n## Escalation\n")
    assert found.title == "On-call handbook"
    assert found.kind == "guide"
    assert found.summary == ""
    assert found.tags == ()
    assert found.author_ids == (MEMBER,)
    assert found.body_markdown == "Who to page, and when.\n\n## Escalation"


def test_a_heading_that_is_not_the_first_line_stays_in_the_body() -> None:
    found = desired("Some intro.\n\n# Release checklist #\n\n- [ ] tag\n")
    assert found.title == "Release checklist"
    assert found.body_markdown.startswith("Some intro.")
    assert "# Release checklist" in found.body_markdown


def test_without_title_or_heading_the_file_name_is_the_title() -> None:
    found = desired("Just some notes.\n\n## A second-level heading\n", "notes/retro-2024.md")
    assert found.title == "retro-2024"
    assert found.body_markdown == "Just some notes.\n\n## A second-level heading"


def test_headings_inside_code_blocks_are_not_titles() -> None:
    text = "```sh\n# not a title\necho hi\n```\n\n# The title\n"
    assert title_heading(text) == "The title"
    assert title_heading("#hashtag\n##  Two\n") is None


@pytest.mark.parametrize(
    ("written", "kind"),
    [("Decision log", "decision_log"), ("case-study", "case_study"), ("CHECKLIST", "checklist")],
)
def test_kinds_are_read_leniently(written: str, kind: str) -> None:
    assert desired(f"---\nkind: {written}\n---\nbody\n").kind == kind


def test_an_unknown_kind_is_invalid_and_says_which_kinds_exist() -> None:
    found = invalid("---\nkind: recipe\n---\n# Soup\n")
    assert "recipe" in found.reason
    assert "decision_log" in found.reason
    assert found.path == "guides/onboarding.md"


def test_front_matter_that_is_not_yaml_is_invalid() -> None:
    assert "YAML" in invalid("---\ntitle: [unclosed\n---\nbody\n").reason


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("---\ntitle: " + "x" * 201 + "\n---\nbody\n", "title"),
        ("---\nsummary: " + "x" * 1001 + "\n---\nbody\n", "summary"),
        ("---\nauthors: [Ada Lovelace]\n---\nbody\n", "author_ids"),
        ("---\ntitle: {a: 1}\n---\nbody\n", "title"),
        ("---\nauthors: {a: 1}\n---\nbody\n", "authors"),
    ],
)
def test_fields_the_service_would_refuse_make_the_file_invalid_naming_the_field(
    text: str, field: str
) -> None:
    assert field in invalid(text).reason


def test_authors_may_be_a_comma_separated_string() -> None:
    assert desired("---\nauthors: m-ada, m-grace\n---\nx\n").author_ids == ("m-ada", "m-grace")
    assert desired("---\nauthor: m-grace\n---\nx\n").author_ids == ("m-grace",)


def test_tags_are_normalised_and_those_that_do_not_fit_dropped_with_a_warning() -> None:
    tags, warnings = normalise_tags(["Team Topologies", " CI ", "c++", "_x", "a" * 51, 2024, None])
    assert tags == ("team-topologies", "ci", "2024")
    assert len(warnings) == 4
    assert any("'c++'" in w for w in warnings)
    assert normalise_tags("ops, On Call") == (("ops", "on-call"), [])
    assert normalise_tags(None) == ((), [])
    assert normalise_tags({"a": 1})[0] == ()


def test_dropped_tags_are_warnings_not_failures() -> None:
    found = desired("---\ntags: [ok, 'not ok!']\n---\nx\n")
    assert found.tags == ("ok",)
    assert len(found.warnings) == 1


# --- reading a tree ----------------------------------------------------------------------------


def test_the_tree_is_read_in_order_leaving_out_hidden_and_other_files(tmp_path: Path) -> None:
    for name in ["b.md", "a/z.markdown", "a/y.MD", ".git/x.md", ".draft.md", "image.png", "t.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("# T\n")
    found = [p.relative_to(tmp_path).as_posix() for p in markdown_files(tmp_path)]
    assert found == ["a/y.MD", "a/z.markdown", "b.md"]


def test_a_file_that_is_not_utf8_is_invalid_and_the_others_are_read(tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_bytes(b"\xff\xfe# Bad\n")
    (tmp_path / "good.md").write_text("# Good\n")
    found = read_tree(tmp_path, COMMUNITY, MEMBER)
    assert isinstance(found[0], Invalid)
    assert found[0].path == "bad.md"
    assert isinstance(found[1], Desired)
    assert found[1].title == "Good"


# --- planning ----------------------------------------------------------------------------------


def current_of(d: Desired, **changes: Any) -> dict[str, Any]:
    """The artifact as the service shows it after publishing `d`."""
    return {
        **d.publish_body(),
        "status": "published",
        "version": 1,
        "url": None,
        "superseded_by": None,
        **changes,
    }


FILE = "---\nkind: checklist\ntitle: Release\ntags: [release]\n---\n- [ ] tag\n- [ ] notes\n"


def test_a_new_file_is_published() -> None:
    d = desired(FILE)
    decided = plan(d, None)
    assert decided.action == "publish"
    assert decided.body == d.publish_body()


def test_a_file_like_its_artifact_is_unchanged() -> None:
    d = desired(FILE)
    assert plan(d, current_of(d)).action == "unchanged"
    # a summary or tags the service leaves out count as empty
    assert plan(d, current_of(d, summary=None)).action == "unchanged"
    no_tags = desired("---\ntitle: Release\n---\nbody\n")
    assert plan(no_tags, current_of(no_tags, tags=None)).action == "unchanged"


def test_a_changed_file_is_revised_with_only_what_changed() -> None:
    d = desired(FILE)
    decided = plan(d, current_of(d, body_markdown="- [ ] tag", tags=["release", "old"]))
    assert decided.action == "revise"
    assert decided.body == {
        "change_note": "import: guides/onboarding.md changed",
        "body_markdown": "- [ ] tag\n- [ ] notes",
        "tags": ["release"],
    }


def test_a_retired_artifact_is_left_alone() -> None:
    d = desired(FILE)
    decided = plan(d, current_of(d, status="retired", superseded_by="kb-next", title="Old"))
    assert decided.action == "skip"
    assert "retired" in decided.reason
    assert "kb-next" in decided.reason


def test_kind_and_authors_that_differ_are_noted_since_a_revision_cannot_change_them() -> None:
    d = desired(FILE)
    decided = plan(d, current_of(d, kind="guide", author_ids=["m-grace"]))
    assert decided.action == "unchanged"
    assert len(decided.notes) == 2


# --- reporting ---------------------------------------------------------------------------------


def test_the_report_counts_each_result_and_fails_when_a_file_failed() -> None:
    report = Report(
        [
            Outcome("a.md", "published", "kb-1", "A"),
            Outcome("b.md", "unchanged", "kb-2", warnings=("tag 'x!' dropped",)),
            Outcome("c.md", "failed", None, "kind 'recipe' is not one of ..."),
        ]
    )
    assert report.counts == {
        "published": 1, "revised": 0, "unchanged": 1, "skipped": 0, "failed": 1,
    }  # fmt: skip
    assert report.failed
    assert report.summary() == "published 1, revised 0, unchanged 1, skipped 0, failed 1"
    text = [line for _, line in lines(report)]
    assert text[-1] == report.summary()
    assert any("c.md" in line and "recipe" in line for line in text)
    assert any("warning: tag 'x!' dropped" in line for line in text)
    assert not Report([Outcome("a.md", "unchanged")]).failed


def test_a_refusal_is_one_line_with_its_code_detail_and_field_errors() -> None:
    forbidden = httpx.Response(
        403,
        json={"title": "Not allowed", "status": 403, "code": "not_author",
              "detail": "publish in your own name: be one of the authors"},
    )  # fmt: skip
    assert problem_reason(forbidden) == (
        "403 not_author: publish in your own name: be one of the authors"
    )
    invalid_body = httpx.Response(
        422,
        json={"title": "Request is not valid", "status": 422, "detail": "see errors",
              "errors": [{"field": "title", "message": "too long"}]},
    )  # fmt: skip
    assert problem_reason(invalid_body) == "422 Request is not valid: see errors; title: too long"
    assert problem_reason(httpx.Response(502, text="bad gateway")) == "502 Bad Gateway"


# --- against a stand-in service ----------------------------------------------------------------


class FakeKnowledge:
    """Just enough of the knowledge service: artifacts by id, publish, revise, 403 for others."""

    def __init__(self, member: str, *, admin: bool = False, status: int | None = None) -> None:
        self.member, self.admin, self.status = member, admin, status
        self.artifacts: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        if self.status is not None:
            return httpx.Response(self.status, json={"status": self.status, "title": "Nope"})
        parts = request.url.path.strip("/").split("/")
        if request.method == "GET":
            doc = self.artifacts.get(parts[1])
            return httpx.Response(200, json=doc) if doc else httpx.Response(404, json={})
        body = json.loads(request.content)
        dry_run = request.url.params.get("dry_run") == "true"
        if parts == ["artifacts"]:
            if not self.admin and self.member not in body["author_ids"]:
                return httpx.Response(403, json={"status": 403, "code": "not_author"})
            if dry_run:
                return httpx.Response(200, json={"dry_run": True, "version": 1})
            self.artifacts[body["artifact_id"]] = {**body, "status": "published", "version": 1}
            return httpx.Response(202, json={"applied": True, "version": 1})
        doc = self.artifacts[parts[1]]
        if dry_run:
            return httpx.Response(200, json={"dry_run": True, "version": doc["version"] + 1})
        body.pop("change_note")
        doc.update(body, version=doc["version"] + 1)
        return httpx.Response(202, json={"applied": True, "version": doc["version"]})


async def run(tmp_path: Path, fake: FakeKnowledge, **kw: Any) -> Report:
    transport = httpx.MockTransport(fake.handle)
    async with httpx.AsyncClient(transport=transport, base_url="http://knowledge") as client:
        return await import_tree(client, tmp_path, COMMUNITY, MEMBER, **kw)


async def test_import_publishes_then_revises_only_changed_files(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\nfirst\n")
    (tmp_path / "b.md").write_text("---\nkind: nonsense\n---\n# B\n")
    (tmp_path / "c.md").write_text("---\nauthors: [m-grace]\n---\n# C\n")
    (tmp_path / "d.md").write_text("# D\n")
    fake = FakeKnowledge(MEMBER)
    first = await run(tmp_path, fake)
    assert [(o.path, o.result) for o in first.outcomes] == [
        ("a.md", "published"), ("b.md", "failed"), ("c.md", "failed"), ("d.md", "published"),
    ]  # fmt: skip
    assert "not_author" in first.outcomes[2].detail

    (tmp_path / "a.md").write_text("# A\n\nsecond\n")
    fake.calls.clear()
    again = await run(tmp_path, fake)
    assert [(o.path, o.result) for o in again.outcomes] == [
        ("a.md", "revised"), ("b.md", "failed"), ("c.md", "failed"), ("d.md", "unchanged"),
    ]  # fmt: skip
    posts = [c for c in fake.calls if c.startswith("POST")]
    # the refused file is tried again (and refused again); the unchanged one is not sent
    assert posts == [
        f"POST /artifacts/{artifact_id_for(COMMUNITY, 'a.md')}/revisions", "POST /artifacts",
    ]  # fmt: skip


async def test_a_dry_run_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n")
    fake = FakeKnowledge(MEMBER)
    report = await run(tmp_path, fake, dry_run=True)
    assert report.outcomes[0].result == "published"
    assert report.outcomes[0].detail == "dry run: would publish"
    assert report.summary().startswith("dry run, nothing sent: published 1")
    assert fake.artifacts == {}


async def test_a_dry_run_fails_a_file_the_service_would_refuse(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\nauthors: [m-grace]\n---\n# A\n")
    fake = FakeKnowledge(MEMBER)
    report = await run(tmp_path, fake, dry_run=True)
    assert report.outcomes[0].result == "failed"
    assert "403 not_author" in report.outcomes[0].detail
    assert fake.calls[-1] == "POST /artifacts"
    assert fake.artifacts == {}


async def test_a_dry_run_against_a_service_that_publishes_anyway_says_so(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n")

    def ignores_dry_run(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(404, json={})
        return httpx.Response(202, json={"applied": True, "version": 1})

    transport = httpx.MockTransport(ignores_dry_run)
    async with httpx.AsyncClient(transport=transport, base_url="http://knowledge") as client:
        report = await import_tree(client, tmp_path, COMMUNITY, MEMBER, dry_run=True)
    assert report.outcomes[0].result == "failed"
    assert "does not know dry runs" in report.outcomes[0].detail


async def test_a_refused_token_aborts_the_import(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n")
    with pytest.raises(ImportAborted, match="AUTH_TOKEN_SECRET"):
        await run(tmp_path, FakeKnowledge(MEMBER, status=401))


async def test_an_invalid_community_or_member_aborts_with_exit_code_2(tmp_path: Path) -> None:
    transport = httpx.MockTransport(FakeKnowledge(MEMBER).handle)
    async with httpx.AsyncClient(transport=transport, base_url="http://knowledge") as client:
        with pytest.raises(ImportAborted, match="--community") as raised:
            await import_tree(client, tmp_path, "no spaces", MEMBER)
    assert raised.value.exit_code == 2


# --- the command -------------------------------------------------------------------------------


def a_closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_the_command_says_which_url_it_cannot_reach_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n")
    url = f"http://127.0.0.1:{a_closed_port()}"
    result = CliRunner().invoke(
        app,
        ["knowledge", "import", str(tmp_path), "--community", COMMUNITY, "--as", MEMBER,
         "--url", url],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"cannot reach the knowledge service at {url}" in result.stderr
    assert "KNOWLEDGE_URL" in result.stderr


def test_the_command_refuses_a_member_id_it_cannot_sign_for(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["knowledge", "import", str(tmp_path), "--community", COMMUNITY, "--as", "a b"]
    )
    assert result.exit_code == 2, result.output
