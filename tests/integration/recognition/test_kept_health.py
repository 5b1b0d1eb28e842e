"""Kept health numbers of ended periods: served again only while no fact has changed them.

Each test feeds the six-month history of `test_health`, reads the trend until it equals the
reference, reads it again (now from what was kept) and checks that the ended months are kept.
Then one kind of late fact lands, dated in an ended month, and the trend and the quarters are
read until they equal the reference over the new facts: were that kind of fact not to mark the
months it changes, the kept numbers would be served unchanged and never match.
"""

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from services.recognition.adapters.health_store import StoredHealth
from services.recognition.bootstrap import bootstrap
from services.recognition.domain.periods import parse
from services.recognition.settings import RecognitionSettings
from tests.infra import Infrastructure
from tests.integration.apps import drop_database, serving, settings_for
from tests.integration.recognition.histories import History
from tests.integration.recognition.test_health import (
    MONTHS,
    QUARTERS,
    health_differences,
    produce_all,
    settle,
    six_months,
    trend_differences,
)

pytestmark = pytest.mark.integration

KEPT = "health_numbers"
LATE_S = 60.0

LateFacts = Callable[[History], None]


def late_session(h: History) -> None:
    h.held("2026-02-18 18:00", "s-late", "gus", ["eve"], ["ann", "bob", "cat"])


def late_kudos(h: History) -> None:
    h.kudos("2026-02-17 12:00", "dan", "eve", "fay")


def late_feedback(h: History) -> None:
    h.feedback("2026-02-13 09:00", "s4", "fay", 1, applied=True)


def joined_earlier(h: History) -> None:
    h.joined("2026-02-09 10:00", "zed")


def left_earlier(h: History) -> None:
    h.left("2026-04-20 10:00", "hal")


def team_changed_earlier(h: History) -> None:
    # ned's team was empty: from February, s5 has people of two known teams.
    h.profile("2026-02-05 09:00", "ned", "mobile")


def action_item_closed_late(h: History) -> None:
    h.closed("2026-02-21 12:00", "a3", "cat")


def action_item_opened_late(h: History) -> None:
    h.opened("2026-03-21 19:00", "a11", "ann")


def published_late(h: History) -> None:
    h.published("2026-02-24 10:00", "p9", "eve")


def revised_late(h: History) -> None:
    h.revised("2026-03-08 10:00", "p2", "kim", version=3)


def reused_late(h: History) -> None:
    h.reused("2026-03-26 11:00", "p3", "bob", "payments")


LATE: dict[str, LateFacts] = {
    "session held": late_session,
    "kudos given": late_kudos,
    "feedback submitted": late_feedback,
    "member joined": joined_earlier,
    "member left": left_earlier,
    "team changed": team_changed_earlier,
    "action item closed": action_item_closed_late,
    "action item opened": action_item_opened_late,
    "artifact published": published_late,
    "artifact revised": revised_late,
    "artifact reused": reused_late,
}


async def differences(client: httpx.AsyncClient, history: History) -> list[str]:
    """What the trend of the six months and the two quarters answer unlike the reference."""
    problems = await trend_differences(client, history, MONTHS)
    for key in QUARTERS:
        problems += await health_differences(client, history, key)
    return problems


async def kept(infra: Infrastructure, database: str, community_id: str) -> dict[str, Any]:
    """The kept documents of the six months and two quarters, by period."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    try:
        ids = [f"{community_id}|{key}" for key in (*MONTHS, *QUARTERS)]
        docs = await mongo[database][KEPT].find({"_id": {"$in": ids}}).to_list(None)
    finally:
        await mongo.close()
    return {d["_id"].rsplit("|", 1)[1]: d for d in docs}


def add_late(history: History, late: LateFacts) -> list[str]:
    """Add the late facts to `history`; the periods whose reference numbers they change."""
    before = {key: history.health(key) for key in (*MONTHS, *QUARTERS)}
    late(history)
    return [key for key, numbers in before.items() if history.health(key) != numbers]


@contextlib.asynccontextmanager
async def fed(
    infra: Infrastructure, unique: str, history: History
) -> AsyncIterator[tuple[httpx.AsyncClient, RecognitionSettings]]:
    """The service, once it answers `history` as the reference does, twice (the second time
    from what the first kept)."""
    settings = settings_for(RecognitionSettings, infra, f"kh{unique}")
    try:
        async with serving(bootstrap(settings), "recognition") as client:
            await produce_all(
                infra.kafka_bootstrap_servers, settings.kafka_topic_prefix, history.in_order()
            )
            assert await settle(lambda: differences(client, history)) == []
            assert await differences(client, history) == []
            yield client, settings
    finally:
        await drop_database(infra, settings.mongodb_database)


def every_period_kept(docs: dict[str, Any]) -> None:
    assert sorted(k for k, d in docs.items() if "metrics" in d) == sorted((*MONTHS, *QUARTERS))
    assert all("facts" in docs[key] for key in MONTHS)


@pytest.mark.parametrize("kind", sorted(LATE))
async def test_a_late_fact_of_each_kind_makes_the_kept_months_it_changes_computed_again(
    infra: Infrastructure, unique: str, kind: str
) -> None:
    late = LATE[kind]
    probe = six_months("probe")
    late(probe)
    assert probe.ambiguities([*MONTHS, *QUARTERS]) == []
    history = six_months(unique[:6])
    async with fed(infra, unique, history) as (client, settings):
        database, community = settings.mongodb_database, history.community_id
        before = await kept(infra, database, community)
        every_period_kept(before)
        count = len(history.events)
        assert add_late(history, late) != [], "the late facts change nothing"
        await produce_all(
            infra.kafka_bootstrap_servers, settings.kafka_topic_prefix, history.events[count:]
        )
        problems = await settle(lambda: differences(client, history), timeout_s=LATE_S)
        assert problems == [], "\n".join(problems)
        # Only what the late facts may change was computed again: January stays as kept.
        after = await kept(infra, database, community)
        assert after["2026-01"]["tag"] == before["2026-01"]["tag"]


async def test_a_month_reusing_an_artifact_of_unknown_authors_is_not_kept(
    infra: Infrastructure, unique: str
) -> None:
    """Authors come with an artifact's publication, the only fact that could change them once
    read: a month reusing an artifact whose publication recognition has not seen (here fay's
    reuse of p8 in March) is computed at every read, the others are kept."""
    history = six_months(unique[:6])
    history.reused("2026-03-27 11:00", "p8", "fay", "payments")
    async with fed(infra, unique, history) as (_, settings):
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
        try:
            stored = StoredHealth(mongo[settings.mongodb_database])
            marks = await stored.marks(history.community_id)
            periods = [parse(key) for key in (*MONTHS, *QUARTERS)]
            current = await stored.metrics(history.community_id, periods, marks)
        finally:
            await mongo.close()
    assert sorted(current) == ["2026-01", "2026-02", "2026-04", "2026-05", "2026-06", "2026-Q2"]


async def test_a_publication_after_its_reuse_gives_the_reuse_its_authors(
    infra: Infrastructure, unique: str
) -> None:
    """The reuse made the artifact's document first; its publication still names the authors
    (they count in March's reuse metrics once known), and the month is kept from then on."""
    history = six_months(unique[:6])
    history.reused("2026-03-27 11:00", "p8", "fay", "payments")
    async with fed(infra, unique, history) as (client, settings):
        count = len(history.events)
        assert add_late(history, lambda h: h.published("2026-02-24 10:00", "p8", "eve")) != []
        await produce_all(
            infra.kafka_bootstrap_servers, settings.kafka_topic_prefix, history.events[count:]
        )
        problems = await settle(lambda: differences(client, history), timeout_s=LATE_S)
        assert problems == [], "\n".join(problems)
        every_period_kept(await kept(infra, settings.mongodb_database, history.community_id))


async def test_kept_numbers_are_served_only_under_the_code_that_computed_them(
    infra: Infrastructure, unique: str
) -> None:
    """A kept month is what is served (made visible here by changing it in place); under
    another code fingerprint, the same document is computed again instead."""
    history = six_months(unique[:6])
    async with fed(infra, unique, history) as (client, settings):
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
        numbers = mongo[settings.mongodb_database][KEPT]
        doc_id = f"{history.community_id}|2026-02"

        async def members_in_february() -> Any:
            answer = await client.get(
                f"/communities/{history.community_id}/health", params={"period": "2026-02"}
            )
            return answer.json()["metrics"]["members"]

        try:
            doc = await numbers.find_one({"_id": doc_id})
            assert doc is not None
            await numbers.update_one({"_id": doc_id}, {"$set": {"metrics.members": 999}})
            assert await members_in_february() == 999
            rules, marks = doc["tag"].split(":")
            await numbers.update_one({"_id": doc_id}, {"$set": {"tag": f"other{rules}:{marks}"}})
            assert await members_in_february() == history.health("2026-02")["members"]
            assert (await numbers.find_one({"_id": doc_id}) or {}).get("tag") == doc["tag"]
        finally:
            await mongo.close()


def test_every_late_kind_changes_an_ended_period_of_the_reference() -> None:
    """Guards the late facts themselves: each changes some number (so each test can fail)."""
    unchanged = [kind for kind, late in LATE.items() if not add_late(six_months("x"), late)]
    assert unchanged == []
