"""kill -9 of the notifier while it works through a backlog of over a thousand deliveries: no
e-mail or chat post is lost, and what is sent twice is at most what was in flight at the kill,
each repeat with the first attempt's identity (`Message-ID`, `Idempotency-Key`)."""

import time
from collections import Counter, defaultdict
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from shared.documents import Doc
from shared.events.topics import Topic
from tests.faults.conftest import PlatformFactory
from tests.faults.harness import (
    SOURCE,
    Deadline,
    Ledger,
    Platform,
    Sender,
    body_of,
    eventually,
    read_topic,
)

pytestmark = pytest.mark.faults

MEMBERS = 100
KUDOS = 600  # one e-mail to its recipient and one post to the default chat channel each
DELIVERIES = 2 * KUDOS
# Sending as fast as the sinks take it, and what was in flight at the kill retried 10 s later.
NOTIFIER = {
    "EMAIL_RATE": "100000/second",
    "CHAT_RATE": "100000/second",
    "DELIVERY_LEASE_S": "10",
    "DELIVERY_RETRY_BASE_S": "0.2",  # a send refused by a busy sink is tried again soon
    "DELIVERY_RETRY_MAX_S": "2",
}


def cloud_event(platform: Platform, n: int, type_: str, key: str, data: Doc) -> Doc:
    return {
        "specversion": "1.0",
        "id": f"{platform.namespace}-{type_}-{n}",
        "source": SOURCE,
        "type": type_,
        "partitionkey": key,
        "time": "2026-12-01T10:00:00Z",
        "data": data,
    }


def backlog(platform: Platform) -> list[Doc]:
    """Profiles with addresses, then kudos to them from givers who each give one."""
    community = f"{platform.namespace}-guild"
    members = [f"m{i}" for i in range(MEMBERS)]
    events = [
        cloud_event(
            platform,
            i,
            "cop.member.profile_updated.v1",
            m,
            {"member_id": m, "name": f"Member {i}", "email": f"{m}@example.com"},
        )
        for i, m in enumerate(members)
    ]
    events += [
        cloud_event(
            platform,
            i,
            "cop.kudos.given.v1",
            community,
            {
                "kudos_id": f"k{i}",
                "from_id": f"giver{i}",
                "to_ids": [members[i % MEMBERS]],
                "community_id": community,
                "message": f"Thanks for review {i}",
                "value_tag": "collaboration",
            },
        )
        for i in range(KUDOS)
    ]
    return events


async def judged(platform: Platform) -> int:
    records = await read_topic(
        platform.infra.kafka_bootstrap_servers, platform.topic(Topic.RECOGNITION)
    )
    bodies = (body_of(r) for r in records)
    return len({b["id"] for b in bodies if b and b.get("type") == "cop.kudos.judged.v1"})


def arrived(platform: Platform) -> int:
    sinks = platform.sinks
    return len(list(sinks.mail_dir.glob("*.eml"))) + len(list(sinks.chat_dir.glob("*.json")))


async def test_kill_9_of_the_notifier_with_a_backlog_loses_no_email(
    platforms: PlatformFactory,
) -> None:
    platform = await platforms("backlog", env={"notifier": NOTIFIER})
    mongo: AsyncMongoClient[Doc] = AsyncMongoClient(platform.infra.mongodb_uri)
    deliveries = mongo[platform.database("notifier")]["deliveries"]
    try:
        # The backlog builds up while the notifier is stopped: recognition judges every kudos.
        platform.stop_service("notifier")
        await Sender(platform, Ledger()).send(backlog(platform))
        await eventually(
            lambda: _at_least(judged(platform), KUDOS), what="every kudos judged", timeout_s=180
        )

        platform.restart("notifier")
        await eventually(
            lambda: _true(arrived(platform) >= DELIVERIES // 4),
            what="a quarter of the backlog sent",
            timeout_s=180,
            every_s=0.05,
        )
        platform.kill("notifier")
        killed_at = time.monotonic()
        states = Counter(d["state"] for d in await deliveries.find({}, {"state": 1}).to_list(None))
        in_flight = states["sending"]
        open_at_kill = sum(n for s, n in states.items() if s not in ("delivered",))
        print(
            f"at the kill: {sum(states.values())} records planned, {open_at_kill} not yet "
            f"delivered, {in_flight} sending, {arrived(platform)} arrived",
            flush=True,
        )
        assert sum(states.values()) + arrived(platform) >= 1_000

        platform.restart("notifier")
        try:
            await eventually(
                lambda: _delivered_all(deliveries),
                what=f"all {DELIVERIES} deliveries delivered",
                timeout_s=240,
                every_s=1,
            )
        except Deadline as e:
            raise Deadline(f"{e}; not delivered: {await _undelivered(deliveries)}") from None
        print(f"drained {time.monotonic() - killed_at:.1f}s after the kill", flush=True)
    finally:
        await mongo.close()

    records = await _all(platform)
    mails_by_id: defaultdict[str, set[str]] = defaultdict(set)
    mail_count: Counter[str] = Counter()
    for mail in platform.sinks.mails():
        delivery_id = str(mail["X-Cop-Notification-Id"])
        mail_count[delivery_id] += 1
        mails_by_id[delivery_id].add(str(mail["Message-ID"]))
    posts_by_key: defaultdict[str, set[str]] = defaultdict(set)
    post_count: Counter[str] = Counter()
    for post in platform.sinks.posts():
        key = str({k.lower(): v for k, v in post["headers"].items()}.get("idempotency-key"))
        post_count[key] += 1
        posts_by_key[key].add(str(post["body"]["event"]["id"]))

    email_ids = {r["_id"] for r in records if r["channel_kind"] == "email"}
    chat_ids = {r["_id"] for r in records if r["channel_kind"] != "email"}
    assert len(email_ids) == KUDOS
    assert len(chat_ids) == KUDOS
    lost = (email_ids - set(mail_count)) | (chat_ids - set(post_count))
    assert not lost, f"{len(lost)} deliveries never arrived, e.g. {sorted(lost)[:3]}"
    repeats = sum(n - 1 for n in (*mail_count.values(), *post_count.values()))
    print(f"repeats: {repeats} (in flight at the kill: {in_flight})", flush=True)
    assert repeats <= in_flight
    assert all(len(ids) == 1 for ids in mails_by_id.values()), "a repeat had another Message-ID"
    assert all(len(ids) == 1 for ids in posts_by_key.values()), "a repeat carried another event"
    interrupted = [r for r in records if "interrupted" in _outcomes(r)]
    assert len(interrupted) == in_flight, "each record left sending was sent again"


async def _at_least(count: Any, n: int) -> bool:
    return bool(await count >= n)


async def _true(value: bool) -> bool:
    return value


async def _delivered_all(deliveries: Any) -> bool:
    states = Counter(d["state"] for d in await deliveries.find({}, {"state": 1}).to_list(None))
    unsettled = {s: n for s, n in states.items() if s != "delivered"}
    assert not {"failed", "unknown", "cancelled"} & set(unsettled), unsettled
    return states["delivered"] == DELIVERIES


async def _undelivered(deliveries: Any) -> list[Doc]:
    """What a stalled drain left, for the failure message."""
    found = await deliveries.find(
        {"state": {"$ne": "delivered"}}, {"context": 0, "trace": 0}
    ).to_list(None)
    return [*found[:5], {"not delivered": len(found)}]


async def _all(platform: Platform) -> list[Doc]:
    mongo: AsyncMongoClient[Doc] = AsyncMongoClient(platform.infra.mongodb_uri)
    try:
        collection = mongo[platform.database("notifier")]["deliveries"]
        return await collection.find({}, {"context": 0}).to_list(None)
    finally:
        await mongo.close()


def _outcomes(record: Doc) -> list[str]:
    return [a["outcome"] for a in record.get("attempts", [])]
