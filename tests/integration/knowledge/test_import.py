"""`copctl knowledge import` against the knowledge service on the real broker and database: a
tree of Markdown files becomes artifacts; a re-run revises what changed and nothing else."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from copctl.knowledge import Report, artifact_id_for, import_tree
from services.knowledge.bootstrap import bootstrap
from services.knowledge.settings import KnowledgeSettings
from tests.answers import answer_of
from tests.infra import Infrastructure
from tests.integration.apps import bearer, serving_anew, settings_for

pytestmark = pytest.mark.integration


@dataclass
class Knowledge:
    client: httpx.AsyncClient
    community: str

    async def get(self, artifact_id: str) -> dict[str, Any]:
        return answer_of(await self.client.get(f"/artifacts/{artifact_id}"))

    async def run(self, root: Path, member: str, *, admin: bool = False) -> Report:
        """The import as `copctl knowledge import ROOT --as MEMBER [--admin]` runs it."""
        headers = bearer(member, admin=admin)
        return await import_tree(self.client, root, self.community, member, headers=headers)

    def id_of(self, relative_path: str) -> str:
        return artifact_id_for(self.community, relative_path)


@pytest.fixture
async def knowledge(infra: Infrastructure, unique: str) -> AsyncIterator[Knowledge]:
    settings = settings_for(KnowledgeSettings, infra, f"kni{unique}")
    async with serving_anew(infra, settings, bootstrap) as client:
        yield Knowledge(client, f"guild-{unique}")


def member() -> str:
    return f"m-{uuid.uuid4().hex[:8]}"


def write(root: Path, relative_path: str, text: str) -> None:
    path = root / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def mine_and_theirs(root: Path) -> tuple[str, str]:
    """Two guides: `mine.md` without authors, `theirs.md` naming someone else as its author;
    gives the importer and that someone."""
    importer, someone = member(), member()
    write(root, "theirs.md", f"---\nauthors: [{someone}]\n---\n# Their guide\n")
    write(root, "mine.md", "# My guide\n\nFirst.\n")
    return importer, someone


def results(report: Report) -> dict[str, str]:
    return {o.path: o.result for o in report.outcomes}


def a_knowledge_base(root: Path, author: str, coauthor: str) -> None:
    write(
        root,
        "patterns/strangler-fig.md",
        "---\n"
        "kind: pattern\n"
        "title: Strangler fig migration\n"
        "summary: Replace a legacy system piece by piece.\n"
        f"tags: [Legacy, Migration Patterns, 'not a tag!']\n"
        f"authors: [{author}, {coauthor}]\n"
        "---\n"
        "# Strangler fig migration\n\n"
        "Route one call at a time to the new system.\n",
    )
    write(
        root,
        "decisions/0001-trunk-based.md",
        "---\nkind: Decision log\ntags: ci, branching\n---\n"
        "# Trunk-based development\n\nWe merge to main daily.\n",
    )
    write(
        root,
        "onboarding.md",
        "# Onboarding guide\n\nPair with a buddy in your first week.\n\n## Tools\n\n- chat\n",
    )
    write(root, "notes/retro-notes.md", "Keep: demos. Drop: long stand-ups.\n")
    write(root, "drafts/recipe.md", "---\nkind: recipe\n---\n# Soup\n")
    write(root, ".git/ignored.md", "# Not imported\n")


async def test_import_publishes_then_revises_only_what_changed(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    author, coauthor = member(), member()
    a_knowledge_base(tmp_path, author, coauthor)

    first = await knowledge.run(tmp_path, author)
    assert results(first) == {
        "decisions/0001-trunk-based.md": "published",
        "drafts/recipe.md": "failed",
        "notes/retro-notes.md": "published",
        "onboarding.md": "published",
        "patterns/strangler-fig.md": "published",
    }
    assert first.failed
    failure = next(o for o in first.outcomes if o.result == "failed")
    assert "recipe" in failure.detail
    strangler = next(o for o in first.outcomes if o.path == "patterns/strangler-fig.md")
    assert any("not a tag!" in w for w in strangler.warnings)

    pattern = await knowledge.get(knowledge.id_of("patterns/strangler-fig.md"))
    assert pattern["community_id"] == knowledge.community
    assert (pattern["kind"], pattern["title"], pattern["summary"]) == (
        "pattern",
        "Strangler fig migration",
        "Replace a legacy system piece by piece.",
    )
    assert pattern["tags"] == ["legacy", "migration-patterns"]
    assert pattern["author_ids"] == [author, coauthor]
    assert pattern["body_markdown"] == "Route one call at a time to the new system."
    decision = await knowledge.get(knowledge.id_of("decisions/0001-trunk-based.md"))
    assert (decision["kind"], decision["title"], decision["tags"], decision["author_ids"]) == (
        "decision_log",
        "Trunk-based development",
        ["ci", "branching"],
        [author],
    )
    guide = await knowledge.get(knowledge.id_of("onboarding.md"))
    assert (guide["kind"], guide["title"], guide["tags"], guide["author_ids"]) == (
        "guide",
        "Onboarding guide",
        [],
        [author],
    )
    assert guide["body_markdown"].startswith("Pair with a buddy")
    notes = await knowledge.get(knowledge.id_of("notes/retro-notes.md"))
    assert (notes["kind"], notes["title"]) == ("guide", "retro-notes")
    missing = await knowledge.client.get(f"/artifacts/{knowledge.id_of('drafts/recipe.md')}")
    assert missing.status_code == 404
    found = await knowledge.client.get(
        "/search", params={"q": "strangler", "community": knowledge.community}
    )
    assert [i["artifact_id"] for i in found.json()["items"]] == [pattern["artifact_id"]]

    again = await knowledge.run(tmp_path, author)
    assert again.counts == {
        "published": 0, "revised": 0, "unchanged": 4, "skipped": 0, "failed": 1,
    }  # fmt: skip

    write(
        tmp_path,
        "onboarding.md",
        "# Onboarding guide\n\nPair with a buddy in your first two weeks.\n\n## Tools\n\n- chat\n",
    )
    write(tmp_path, "playbooks/incident.md", "---\nkind: playbook\n---\n# Incident playbook\n")
    third = await knowledge.run(tmp_path, author)
    assert results(third) == {
        "decisions/0001-trunk-based.md": "unchanged",
        "drafts/recipe.md": "failed",
        "notes/retro-notes.md": "unchanged",
        "onboarding.md": "revised",
        "patterns/strangler-fig.md": "unchanged",
        "playbooks/incident.md": "published",
    }
    guide_id = knowledge.id_of("onboarding.md")
    versions = (await knowledge.client.get(f"/artifacts/{guide_id}/versions")).json()
    assert [(v["version"], v["change_note"], v["editor_id"]) for v in versions] == [
        (1, "published", author),
        (2, "import: onboarding.md changed", author),
    ]
    diff = await knowledge.client.get(f"/artifacts/{guide_id}/diff", params={"from": 1, "to": 2})
    assert "+Pair with a buddy in your first two weeks." in diff.text
    for other in ("patterns/strangler-fig.md", "decisions/0001-trunk-based.md"):
        assert (await knowledge.get(knowledge.id_of(other)))["version"] == 1
    playbook = await knowledge.get(knowledge.id_of("playbooks/incident.md"))
    assert (playbook["kind"], playbook["title"]) == ("playbook", "Incident playbook")


async def test_files_in_other_names_need_admin_and_retired_artifacts_are_left_alone(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    importer, someone = mine_and_theirs(tmp_path)

    as_member = await knowledge.run(tmp_path, importer)
    assert results(as_member) == {"mine.md": "published", "theirs.md": "failed"}
    refusal = next(o for o in as_member.outcomes if o.path == "theirs.md")
    assert "not_author" in refusal.detail

    as_admin = await knowledge.run(tmp_path, importer, admin=True)
    assert results(as_admin) == {"mine.md": "unchanged", "theirs.md": "published"}
    assert (await knowledge.get(knowledge.id_of("theirs.md")))["author_ids"] == [someone]

    mine = knowledge.id_of("mine.md")
    retired = await knowledge.client.post(
        f"/artifacts/{mine}/retire?wait=true",
        json={"reason": "moved to the wiki"},
        headers=bearer(importer),
    )
    assert retired.status_code == 202, retired.text
    write(tmp_path, "mine.md", "# My guide\n\nSecond.\n")
    after_retirement = await knowledge.run(tmp_path, importer)
    assert results(after_retirement) == {"mine.md": "skipped", "theirs.md": "unchanged"}
    assert not after_retirement.failed
    current = await knowledge.get(mine)
    assert (current["status"], current["version"], current["body_markdown"]) == (
        "retired",
        1,
        "First.",
    )
