"""A member's notification preferences on the real MongoDB protocol: bounded (a 422 naming the
field beyond `shared.events.bounds`), and at the bound stored whole with the audience indexes
that routing reads kept in step, entry by entry."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.notifier.adapters.directory import Directory
from services.notifier.bootstrap import bootstrap
from services.notifier.settings import NotifierSettings
from shared.events.bounds import MAX_FOLLOWED_TAGS, MAX_PREFERENCE_COMMUNITIES
from shared.mongo import make_client
from tests.answers import answer_of
from tests.infra import Infrastructure
from tests.integration.apps import bearer, drop_database, serving, settings_for
from tests.problems import problem_of

pytestmark = pytest.mark.integration

LEVELS = ("watching", "digest", "muted")


@dataclass
class Notifier:
    client: httpx.AsyncClient
    directory: Directory  # the notifier's own database, read as routing reads it

    async def put(self, member_id: str, prefs: dict[str, Any]) -> httpx.Response:
        return await self.client.put(
            f"/members/{member_id}/preferences", json=prefs, headers=bearer(member_id)
        )

    async def get(self, member_id: str) -> dict[str, Any]:
        response = await self.client.get(
            f"/members/{member_id}/preferences", headers=bearer(member_id)
        )
        return answer_of(response)

    async def audiences(self, keys: list[str]) -> dict[str, set[str]]:
        docs = await self.directory.audiences.find({"_id": {"$in": keys}}).to_list(None)
        return {d["_id"]: set(d.get("members", [])) for d in docs}


@pytest.fixture
async def notifier(infra: Infrastructure, unique: str) -> AsyncIterator[Notifier]:
    settings = settings_for(NotifierSettings, infra, f"ntp{unique}", dispatch_interval_s=600.0)
    mongo = make_client(infra.mongodb_uri, app_name="test-notifier-preferences")
    try:
        async with serving(bootstrap(settings), "notifier") as client:
            yield Notifier(client, Directory(mongo[settings.mongodb_database]))
    finally:
        await mongo.close()
        await drop_database(infra, settings.mongodb_database)


def communities(count: int, prefix: str = "c") -> dict[str, str]:
    return {f"{prefix}-{i:04d}": LEVELS[i % 3] for i in range(count)}


def tags(count: int, prefix: str = "t") -> list[str]:
    return [f"{prefix}-{i}" for i in range(count)]


@pytest.mark.parametrize(
    ("prefs", "field"),
    [
        ({"communities": communities(MAX_PREFERENCE_COMMUNITIES + 1)}, "communities"),
        ({"tags": tags(MAX_FOLLOWED_TAGS + 1)}, "tags"),
    ],
)
async def test_preferences_beyond_the_bound_are_a_422_naming_the_field(
    notifier: Notifier, prefs: dict[str, Any], field: str
) -> None:
    refused = await notifier.put("ann", prefs)
    assert [e["field"] for e in problem_of(refused, 422)["errors"]] == [field]
    assert (await notifier.get("ann"))["communities"] == {}  # nothing was stored


async def test_preferences_at_the_bound_are_stored_with_their_audiences_in_step(
    notifier: Notifier,
) -> None:
    shared_community = "c-0000"
    assert (await notifier.put("ben", {"communities": {shared_community: "digest"}})).is_success
    first: dict[str, Any] = {
        "communities": communities(MAX_PREFERENCE_COMMUNITIES),
        "tags": tags(MAX_FOLLOWED_TAGS),
        "digest": "weekly",
    }
    saved = await notifier.put("ann", first)
    assert saved.status_code == 200, saved.text
    stored = await notifier.get("ann")
    assert (stored["communities"], stored["tags"]) == (first["communities"], first["tags"])
    keys = [f"watchers:{c}" for c in first["communities"]] + [f"tag:{t}" for t in first["tags"]]
    audiences = await notifier.audiences(keys)
    assert sorted(k for k, members in audiences.items() if "ann" in members) == sorted(keys)

    # half the communities and tags change: ann leaves the indexes she no longer names only
    kept = dict(list(first["communities"].items())[MAX_PREFERENCE_COMMUNITIES // 2 :])
    second = {
        "communities": {**kept, **communities(MAX_PREFERENCE_COMMUNITIES // 2, "d")},
        "tags": [*first["tags"][MAX_FOLLOWED_TAGS // 2 :], *tags(MAX_FOLLOWED_TAGS // 2, "u")],
    }
    assert len(second["communities"]) == MAX_PREFERENCE_COMMUNITIES
    assert (await notifier.put("ann", second)).status_code == 200
    stored = await notifier.get("ann")
    assert (stored["communities"], stored["tags"]) == (second["communities"], second["tags"])
    now = [f"watchers:{c}" for c in second["communities"]] + [f"tag:{t}" for t in second["tags"]]
    audiences = await notifier.audiences(sorted({*keys, *now}))
    assert sorted(k for k, members in audiences.items() if "ann" in members) == sorted(now)
    assert audiences[f"watchers:{shared_community}"] == {"ben"}  # ann left it, ben stays
