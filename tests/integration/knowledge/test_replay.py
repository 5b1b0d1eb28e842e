"""Replaying the topics into an emptied database yields the same projection and search index."""

from typing import Any

import pytest
from pymongo import AsyncMongoClient

from copctl.replay import replay
from services.knowledge import rebuild
from services.knowledge.bootstrap import bootstrap
from services.knowledge.settings import KnowledgeSettings
from shared.events.catalog import MemberProfileUpdated, SessionFormat, SessionHeld
from shared.events.envelope import new_event
from shared.lag import GroupLag
from tests.infra import Infrastructure
from tests.integration.apps import bearer, drop_database, serving, settings_for
from tests.integration.kafka_io import produce_events
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration


async def build_history(client: Any, community: str, infra: Infrastructure, prefix: str) -> None:
    """Publications, revisions, links, a retirement, reuses and a filled minutes stub."""
    author, editor = "ada", "grace"
    held = SessionHeld(
        session_id=f"s-{community}",
        community_id=community,
        held_at="2026-11-02T10:00:00Z",
        duration_minutes=60,
        format=SessionFormat.DEMO_DAY,
        title="Demo day",
        facilitator_id=author,
    )
    profile = MemberProfileUpdated(member_id=author, name="Ada", email="a@example.com", team="core")
    await produce_events(
        infra.kafka_bootstrap_servers,
        prefix,
        [new_event(held, source="test"), new_event(profile, source="test")],
    )
    ids: list[str] = []
    for i in range(6):
        response = await client.post(
            "/artifacts?wait=true",
            json={
                "community_id": community,
                "kind": "pattern",
                "title": f"Pattern {i}",
                "body_markdown": f"Body of pattern {i} about caching and retries.",
                "tags": ["resilience"],
                "author_ids": [author, editor],
                "related_artifact_ids": ids[-1:],
            },
            headers=bearer(author),
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["artifact_id"])
    for i in (1, 2):
        revised = await client.post(
            f"/artifacts/{ids[i]}/revisions?wait=true",
            json={
                "change_note": "rewrite",
                "body_markdown": f"New body {i}: circuit breakers.",
                "related_artifact_ids": [ids[0]],
            },
            headers=bearer(editor),
        )
        assert revised.status_code == 202, revised.text
    retired = await client.post(
        f"/artifacts/{ids[3]}/retire?wait=true",
        json={"reason": "replaced", "superseded_by": ids[4]},
        headers=bearer(author),
    )
    assert retired.status_code == 202, retired.text
    for team in ("payments", "search"):
        reused = await client.post(
            f"/artifacts/{ids[0]}/reuses?wait=true", json={"team": team}, headers=bearer(team)
        )
        assert reused.status_code == 202

    async def stub() -> bool:
        return bool((await client.get(f"/sessions/s-{community}/minutes")).status_code == 200)

    await eventually(stub, what="the minutes stub")
    filled = await client.post(
        f"/artifacts/minutes-s-{community}/revisions?wait=true",
        json={"change_note": "notes", "body_markdown": "We demoed the cache."},
        headers=bearer(author),
    )
    assert filled.status_code == 202, filled.text


async def dump(mongo: AsyncMongoClient[dict[str, Any]], database: str) -> dict[str, Any]:
    """Every projection document, but those a live run emptied (a term whose last posting a
    revision removed, a link taken back): a replay that applies the publication and the revision
    in one batch never writes them, and an empty set means the same as none; nor the catalog's
    version token, which only tells readers to reload it."""
    found = {}
    for name in rebuild.COLLECTIONS:
        docs = await mongo[database][name].find({}).sort("_id", 1).to_list(None)
        found[name] = [
            d
            for d in docs
            if set(d) != {"_id"} and d.get("p", 1) and d.get("from", 1) and d["_id"] != "version"
        ]
    return found


async def test_replay_into_an_emptied_database_rebuilds_the_same_projection_and_index(
    infra: Infrastructure, unique: str
) -> None:
    settings = settings_for(KnowledgeSettings, infra, f"krp{unique}")
    community = f"guild-{unique}"
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    topics = [settings.kafka_topic_prefix + t for t in rebuild.TOPICS]
    lag = GroupLag(infra.kafka_bootstrap_servers, settings.kafka_consumer_group or "", topics)
    try:
        async with serving(bootstrap(settings), "knowledge") as client:
            await build_history(client, community, infra, settings.kafka_topic_prefix)
            await lag.start()
            await eventually(
                lambda: _caught_up(lag), what="the projection to catch up", timeout_s=30
            )
            search = (await client.get("/search", params={"q": "circuit breakers caching"})).json()
        live = await dump(mongo, settings.mongodb_database)
        assert search["total"] > 0
        assert any(d["status"] == "retired" for d in live["artifacts"])
        await replay("knowledge", settings)
        assert await mongo[settings.mongodb_database]["artifacts"].count_documents({}) == 0
        async with serving(bootstrap(settings), "knowledge") as client:
            await eventually(lambda: _caught_up(lag), what="the replay to catch up", timeout_s=30)
            again = (await client.get("/search", params={"q": "circuit breakers caching"})).json()
        assert await dump(mongo, settings.mongodb_database) == live
        assert again == search
    finally:
        await lag.stop()
        await mongo.close()
        await drop_database(infra, settings.mongodb_database)


async def _caught_up(lag: GroupLag) -> bool:
    return await lag.records_behind() == 0
