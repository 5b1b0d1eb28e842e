"""A dry run checks what the real run checks: `?dry_run=true` on the knowledge service's publish
and revise, and `copctl knowledge import --dry-run` using it — on the real broker, database and
Redis."""

from pathlib import Path
from typing import Any

import pytest

from copctl.knowledge import Report, import_tree
from tests.integration.apps import bearer
from tests.integration.knowledge.test_import import (
    Knowledge,
    knowledge,
    member,
    mine_and_theirs,
    results,
    write,
)

pytestmark = pytest.mark.integration
__all__ = ["knowledge"]  # the fixture, shared with the real import's tests


async def dry_run(knowledge: Knowledge, root: Path, who: str, *, admin: bool = False) -> Report:
    """`copctl knowledge import ROOT --as WHO [--admin] --dry-run`."""
    headers = bearer(who, admin=admin)
    return await import_tree(
        knowledge.client, root, knowledge.community, who, headers=headers, dry_run=True
    )


async def test_an_import_dry_run_refuses_a_file_in_another_members_name_as_the_real_run_does(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    importer, _ = mine_and_theirs(tmp_path)

    checked = await dry_run(knowledge, tmp_path, importer)

    assert results(checked) == {"mine.md": "published", "theirs.md": "failed"}
    refused = next(o for o in checked.outcomes if o.path == "theirs.md")
    assert refused.detail.startswith("403 not_author")
    assert next(o for o in checked.outcomes if o.path == "mine.md").detail == (
        "dry run: would publish"
    )
    for path in ("theirs.md", "mine.md"):  # nothing published, nothing reserved
        response = await knowledge.client.get(f"/artifacts/{knowledge.id_of(path)}")
        assert response.status_code == 404

    real = await knowledge.run(tmp_path, importer)
    assert results(real) == results(checked)
    assert next(o for o in real.outcomes if o.path == "theirs.md").detail == refused.detail
    as_admin = await dry_run(knowledge, tmp_path, importer, admin=True)
    assert results(as_admin) == {"mine.md": "unchanged", "theirs.md": "published"}


async def test_a_revision_dry_run_is_refused_to_a_member_who_may_not_revise(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    author, stranger = member(), member()
    write(tmp_path, "guide.md", f"---\nauthors: [{author}, {stranger}]\n---\n# Guide\n\nOne.\n")
    assert results(await knowledge.run(tmp_path, author)) == {"guide.md": "published"}
    write(tmp_path, "guide.md", f"---\nauthors: [{author}]\n---\n# Guide\n\nTwo.\n")

    as_author = await dry_run(knowledge, tmp_path, author)
    outsider = member()
    as_outsider = await dry_run(knowledge, tmp_path, outsider)

    assert results(as_author) == {"guide.md": "revised"}
    assert as_author.outcomes[0].detail == "dry run: would revise: body_markdown"
    assert results(as_outsider) == {"guide.md": "failed"}
    assert as_outsider.outcomes[0].detail.startswith("403 not_author_leader_or_admin")
    assert (await knowledge.get(knowledge.id_of("guide.md")))["version"] == 1


async def test_dry_run_answers_200_with_what_would_happen_and_publishes_nothing(
    knowledge: Knowledge,
) -> None:
    author = member()
    artifact: dict[str, Any] = {
        "artifact_id": f"dry-{author}",
        "community_id": knowledge.community,
        "kind": "guide",
        "title": "Dry guide",
        "body_markdown": "Text.",
        "author_ids": [author],
    }

    checked = await knowledge.client.post(
        "/artifacts?dry_run=true", json=artifact, headers=bearer(author)
    )
    refused = await knowledge.client.post(
        "/artifacts?dry_run=true", json=artifact, headers=bearer(member())
    )

    assert checked.status_code == 200, checked.text
    assert checked.json() == {"dry_run": True, "artifact_id": artifact["artifact_id"], "version": 1}
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "not_author"
    assert (await knowledge.client.get(f"/artifacts/{artifact['artifact_id']}")).status_code == 404
    published = await knowledge.client.post(
        "/artifacts?wait=true", json=artifact, headers=bearer(author)
    )
    assert published.status_code == 202, published.text  # the dry run reserved nothing
    again = await knowledge.client.post(
        "/artifacts?dry_run=true", json=artifact, headers=bearer(author)
    )
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "artifact_exists"
    revision = {"change_note": "typo", "body_markdown": "Text!"}
    path = f"/artifacts/{artifact['artifact_id']}/revisions?dry_run=true"
    would = await knowledge.client.post(path, json=revision, headers=bearer(author))
    assert would.status_code == 200, would.text
    assert would.json()["version"] == 2
    assert (await knowledge.get(artifact["artifact_id"]))["version"] == 1
