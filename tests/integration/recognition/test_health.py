"""Community health and its alerts, on the real broker, database and Redis.

Each test builds a history once — CloudEvents with chosen times — feeds it to the service (straight
to Kafka, or through the events service's `POST /ingest`) and to `health_reference`, which
computes the expected numbers from docs/recognition.md's definitions without the service's code.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from services.events.bootstrap import bootstrap as events_bootstrap
from services.events.settings import EventsSettings
from services.recognition.bootstrap import bootstrap
from services.recognition.settings import RecognitionSettings
from shared.community_health import METRICS
from shared.events.codec import encode
from shared.events.envelope import CloudEvent
from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.apps import drop_database, serving, settings_for
from tests.integration.kafka_io import body, headers
from tests.integration.polling import eventually
from tests.integration.recognition import health_reference as reference
from tests.integration.recognition.histories import History, at, last_ended_month

pytestmark = pytest.mark.integration

ALERT_RAISED = "cop.health.alert_raised.v1"
MONTHS = reference.months("2026-01", "2026-06")
QUARTERS = ("2026-Q1", "2026-Q2")
CATCH_UP_S = 90.0


TEAMS = {
    "ann": "platform", "bob": "payments", "cat": "search", "dan": "platform", "eve": "mobile",
    "fay": "payments", "gus": "search", "ivy": "mobile", "jon": "platform", "kim": "payments",
    "lee": "search", "max": "mobile", "ned": "", "ola": "platform", "vic": "security",
}  # fmt: skip
"""Everyone's first profile; `hal` has none (team unknown), `ned` an empty team."""

# (event time, session, facilitator, speakers, attendees)
SESSIONS: list[tuple[str, str, str, list[str], list[str]]] = [
    ("2026-01-14 18:00", "s1", "ann", ["bob"], ["cat", "dan", "eve", "fay", "hal"]),
    ("2026-01-21 18:00", "s2", "ann", ["cat", "gus"], ["bob", "dan", "eve", "ivy", "hal", "max"]),
    # s3 is held on 30 January but recorded on 1 February: its time is February's.
    ("2026-02-01 08:00", "s3", "dan", ["eve"], ["ann", "bob", "fay", "gus"]),
    ("2026-02-11 18:00", "s4", "bob", ["ivy"], ["ann", "cat", "dan", "jon", "max", "ned", "vic"]),
    # Only one known team (platform) among its people: not cross-team.
    ("2026-02-25 18:00", "s5", "ann", [], ["dan", "jon", "hal", "ned"]),
    ("2026-03-04 18:00", "s6", "cat", ["dan", "fay"], ["ann", "bob", "ivy", "jon", "kim", "gus"]),
    ("2026-03-18 18:00", "s7", "ann", ["kim"],
     ["bob", "cat", "dan", "eve", "gus", "jon", "ivy", "fay"]),
    ("2026-04-02 18:00", "s8", "eve", ["jon"], ["ann", "bob", "cat", "lee", "kim"]),
    ("2026-04-15 18:00", "s9", "ann", ["lee", "bob"], ["cat", "dan", "fay", "gus", "ivy"]),
    ("2026-04-29 18:00", "s10", "fay", ["gus"], ["ann", "eve", "kim"]),
    ("2026-05-06 18:00", "s11", "ann", ["ola"], ["bob", "cat", "dan", "jon", "kim", "lee"]),
    ("2026-05-20 18:00", "s12", "jon", ["cat"], ["ann", "ola", "ivy", "eve"]),
    ("2026-06-03 18:00", "s13", "ann", ["bob", "kim"],
     ["cat", "dan", "ola", "lee", "jon", "gus", "fay"]),
    ("2026-06-17 18:00", "s14", "ann", ["dan"], ["bob", "cat", "eve", "ivy", "kim", "lee"]),
    # All of search by then (ivy moved in March): not cross-team.
    ("2026-06-24 18:00", "s15", "lee", [], ["cat", "gus", "ivy"]),
]  # fmt: skip

# (time, session, member, rating, applied)
FEEDBACK: list[tuple[str, str, str, int, bool]] = [
    ("2026-01-15 09:00", "s1", "cat", 4, True), ("2026-01-15 09:30", "s1", "hal", 3, False),
    ("2026-01-22 09:00", "s2", "eve", 5, True), ("2026-01-22 09:30", "s2", "max", 2, False),
    ("2026-02-02 09:00", "s3", "fay", 4, False), ("2026-02-12 09:00", "s4", "jon", 5, True),
    ("2026-02-12 09:30", "s4", "max", 3, False), ("2026-02-26 09:00", "s5", "hal", 2, True),
    ("2026-03-05 09:00", "s6", "kim", 5, False), ("2026-03-19 09:00", "s7", "gus", 4, True),
    ("2026-03-19 09:30", "s7", "eve", 3, False), ("2026-04-03 09:00", "s8", "lee", 4, True),
    ("2026-04-16 09:00", "s9", "dan", 5, True), ("2026-04-30 09:00", "s10", "kim", 3, False),
    ("2026-05-07 09:00", "s11", "kim", 4, False), ("2026-05-21 09:00", "s12", "ola", 5, True),
    ("2026-06-04 09:00", "s13", "lee", 4, False), ("2026-06-18 09:00", "s14", "ivy", 2, False),
    ("2026-06-25 09:00", "s15", "gus", 3, True),
]  # fmt: skip

# (item, owner, opened, closed or None)
ACTION_ITEMS: list[tuple[str, str, str, str | None]] = [
    ("a1", "dan", "2026-01-14 19:00", "2026-02-05 12:00"),  # closed the month after
    ("a2", "bob", "2026-01-21 19:00", "2026-01-28 12:00"),
    ("a3", "cat", "2026-02-11 19:00", None),
    ("a4", "jon", "2026-02-25 19:00", "2026-03-10 12:00"),
    ("a5", "kim", "2026-03-18 19:00", "2026-03-28 12:00"),
    ("a6", "eve", "2026-04-15 19:00", "2026-05-04 12:00"),
    ("a7", "ann", "2026-04-29 19:00", "2026-04-30 12:00"),
    ("a8", "lee", "2026-05-20 19:00", None),
    ("a9", "ola", "2026-06-03 19:00", "2026-06-20 12:00"),
    ("a10", "fay", "2026-06-24 19:00", None),
]

# (time, artifact, authors)
ARTIFACTS: list[tuple[str, str, list[str]]] = [
    ("2026-01-20 10:00", "p1", ["ann", "dan"]),
    ("2026-02-10 10:00", "p2", ["bob"]),
    ("2026-03-16 10:00", "p3", ["cat", "gus"]),
    ("2026-05-12 10:00", "p4", ["ivy"]),
    ("2026-06-09 10:00", "p5", ["kim", "jon"]),
]
REVISIONS = [("2026-02-19 10:00", "p1", "dan"), ("2026-04-10 10:00", "p2", "fay"),
             ("2026-06-11 10:00", "p3", "gus")]  # fmt: skip

# (time, artifact, member, the member's team then)
REUSES: list[tuple[str, str, str, str]] = [
    ("2026-02-23 11:00", "p1", "bob", "payments"),  # cross-team
    ("2026-03-05 11:00", "p1", "jon", "platform"),  # the authors' team
    ("2026-03-25 11:00", "p2", "cat", "search"),
    ("2026-04-09 11:00", "p1", "eve", "mobile"),
    ("2026-04-21 11:00", "p3", "ivy", "search"),  # ivy moved to search in March: same team
    ("2026-05-14 11:00", "p2", "fay", "payments"),
    ("2026-05-27 11:00", "p3", "dan", "platform"),
    ("2026-06-15 11:00", "p4", "eve", "mobile"),
    ("2026-06-22 11:00", "p5", "bob", "payments"),  # one author (kim) is in payments
    ("2026-06-25 11:00", "p1", "lee", "search"),
]

# (time, giver, receivers)
KUDOS: list[tuple[str, str, list[str]]] = [
    ("2026-01-22 12:00", "ann", ["bob", "cat"]), ("2026-01-27 12:00", "eve", ["ann"]),
    ("2026-02-16 12:00", "bob", ["ivy", "dan", "jon"]), ("2026-02-26 12:00", "cat", ["ann"]),
    ("2026-03-19 12:00", "ann", ["kim"]), ("2026-03-23 12:00", "gus", ["cat", "fay"]),
    ("2026-04-06 12:00", "kim", ["jon"]), ("2026-04-16 12:00", "ann", ["lee", "eve"]),
    ("2026-05-07 12:00", "ola", ["ann"]), ("2026-05-21 12:00", "lee", ["cat"]),
    ("2026-06-04 12:00", "ann", ["bob", "dan", "kim"]), ("2026-06-18 12:00", "bob", ["ann"]),
]  # fmt: skip


def six_months(suffix: str) -> History:
    """January to June 2026 of one guild: 14 members in four teams (and people of unknown team),
    joins and leaves along the way, a team change, 15 sessions, feedback, action items,
    artifacts with revisions and reuses, kudos — and a few facts of another community."""
    h = History(suffix)
    other = h.id("other-guild")
    h.created("2025-12-01 08:00", "ann")
    for n, (name, team) in enumerate(TEAMS.items()):
        h.profile(f"2025-12-01 09:{n:02d}", name, team)
    h.profile("2026-03-02 09:00", "ivy", "search")
    h.joined("2025-12-02 10:00", "ann", "bob", "cat", "dan")
    h.joined("2026-01-05 10:00", "eve", "fay", "gus", "hal", "ivy", "max", "ned")
    h.joined("2026-02-03 10:00", "jon")
    h.joined("2026-03-03 10:00", "kim")
    h.joined("2026-04-01 10:00", "lee")
    h.joined("2026-05-02 10:00", "ola")
    h.left("2026-04-08 10:00", "max")
    h.left("2026-05-20 10:00", "ned")

    for when, session, facilitator, speakers, attendees in SESSIONS:
        held_at = "2026-01-30 17:00" if session == "s3" else None
        # lee does not check in to the last session: the attendee count leaves the host out.
        h.held(
            when, session, facilitator, speakers, attendees, held_at=held_at,
            roles_checked_in=session != "s15",
        )  # fmt: skip
    for when, session, member, rating, applied in FEEDBACK:
        h.feedback(when, session, member, rating, applied=applied)
    for item, owner, opened, closed in ACTION_ITEMS:
        h.opened(opened, item, owner)
        if closed:
            h.closed(closed, item, owner)
    for when, artifact, authors in ARTIFACTS:
        h.published(when, artifact, *authors)
    for when, artifact, editor in REVISIONS:
        h.revised(when, artifact, editor)
    for when, artifact, member, team in REUSES:
        h.reused(when, artifact, member, team)
    for when, giver, receivers in KUDOS:
        h.kudos(when, giver, *receivers)

    # Elsewhere: activity in another community is no activity in this one.
    h.held("2026-03-11 18:00", "d1", "bob", [], ["cat", "hal"], community=other)
    h.feedback("2026-03-12 09:00", "d1", "cat", 1, community=other)
    h.kudos("2026-03-12 12:00", "ann", "hal", community=other)
    return h


# --- feeding the service and reading it ---


async def produce_all(bootstrap_servers: str, prefix: str, events: Iterable[CloudEvent]) -> None:
    """Like kafka_io.produce_event, one producer for the whole history."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for event in events:
            record = encode(event)
            await producer.send_and_wait(
                prefix + record.topic, record.value, key=record.key,
                headers=[(k, v.encode()) for k, v in record.headers.items()],
            )  # fmt: skip
    finally:
        await producer.stop()


def differences(where: str, expected: reference.Metrics, got: dict[str, Any]) -> list[str]:
    return [
        f"{where} {name}: expected {expected[name]!r}, got {got.get(name, 'nothing')!r}"
        for name in METRICS
        if name not in got or got[name] != expected[name]
    ]


def bounds_differences(where: str, key: str, answer: dict[str, Any]) -> list[str]:
    p = reference.period(key)
    problems = []
    if answer.get("period") != key:
        problems.append(f"{where}: period {answer.get('period')!r}, expected {key!r}")
    for name, expected in (("start", p.start), ("end", p.end)):
        got = answer.get(name)
        if not isinstance(got, str) or datetime.fromisoformat(got) != expected:
            problems.append(f"{where}: {name} {got!r}, expected {expected.isoformat()}")
    return problems


async def health_differences(client: httpx.AsyncClient, history: History, key: str) -> list[str]:
    """Everything /health?period=key answers differently from the reference, previous included."""
    response = await client.get(
        f"/communities/{history.community_id}/health", params={"period": key}
    )
    if response.status_code != 200:
        return [f"{key}: HTTP {response.status_code} {response.text}"]
    answer = response.json()
    before = reference.previous(key)
    problems = bounds_differences(key, key, answer)
    problems += differences(key, history.health(key), answer.get("metrics", {}))
    previous = answer.get("previous") or {}
    problems += bounds_differences(f"{key} previous", before, previous)
    problems += differences(
        f"{key} previous ({before})", history.health(before), previous.get("metrics", {})
    )
    return problems


async def trend_differences(
    client: httpx.AsyncClient, history: History, keys: Sequence[str]
) -> list[str]:
    response = await client.get(
        f"/communities/{history.community_id}/health/trend",
        params={"from": keys[0], "to": keys[-1]},
    )
    if response.status_code != 200:
        return [f"trend: HTTP {response.status_code} {response.text}"]
    series = response.json().get("months", [])
    got = [m.get("period") for m in series]
    if got != list(keys):
        return [f"trend: months {got}, expected {list(keys)}"]
    problems: list[str] = []
    for key, month in zip(keys, series, strict=True):
        problems += bounds_differences(f"trend {key}", key, month)
        problems += differences(f"trend {key}", history.health(key), month.get("metrics", {}))
    return problems


async def settle(
    probe: Callable[[], Awaitable[list[str]]], *, timeout_s: float = CATCH_UP_S
) -> list[str]:
    """Poll until `probe` finds no difference, or the deadline; the last differences found."""
    deadline = time.monotonic() + timeout_s
    while True:
        problems = await probe()
        if not problems or time.monotonic() > deadline:
            return problems
        await asyncio.sleep(0.25)


async def trend_settled(
    client: httpx.AsyncClient, history: History, keys: Sequence[str]
) -> list[str]:
    """Polls the month-by-month series until it matches the reference; what still differs."""
    return await settle(lambda: trend_differences(client, history, keys))


async def every_period_differences(client: httpx.AsyncClient, history: History) -> list[str]:
    """Once the trend shows the whole history (the projection caught up), every period."""
    problems = await trend_settled(client, history, MONTHS)
    for key in (*MONTHS, *QUARTERS):
        problems += await health_differences(client, history, key)
    return problems


def assert_unambiguous(history: History, keys: Sequence[str]) -> None:
    """The history's numbers follow from the definitions alone (see health_reference)."""
    assert history.ambiguities(keys) == []


@pytest.fixture
def history(unique: str) -> History:
    """The six-month history of a community of its own, its numbers unambiguous."""
    history = six_months(unique[:6])
    assert_unambiguous(history, (*MONTHS, *QUARTERS))
    return history


# --- every metric, every month, two quarters ---


async def test_every_health_metric_of_every_month_and_quarter_follows_the_definitions(
    infra: Infrastructure, unique: str, history: History
) -> None:
    settings = settings_for(RecognitionSettings, infra, f"hl{unique}")
    try:
        async with serving(bootstrap(settings), "recognition") as client:
            await produce_all(
                infra.kafka_bootstrap_servers, settings.kafka_topic_prefix, history.in_order()
            )
            problems = await every_period_differences(client, history)
    finally:
        await drop_database(infra, settings.mongodb_database)
    assert problems == [], "\n".join(problems)


def test_the_six_month_history_exercises_every_metric() -> None:
    """Guards the history itself: each metric moves (not all zero, not all alike)."""
    history = six_months("x")
    series = {name: [history.health(k)[name] for k in MONTHS] for name in METRICS}
    flat = [name for name, values in series.items() if len(set(values)) < 2]
    assert flat == []
    assert (
        history.health("2026-02")["cross_team_sessions"]
        < history.health("2026-02")["sessions_held"]
    )
    # s3, held in January but recorded in February, counts in February.
    assert [history.health(k)["sessions_held"] for k in ("2026-01", "2026-02")] == [2, 3]


def test_the_reference_computes_exactly_the_contracts_metrics() -> None:
    assert list(six_months("x").health("2026-03")) == list(METRICS)


# --- the same history through the gateway ---


async def test_a_history_sent_through_the_gateway_gives_the_same_health_numbers(
    infra: Infrastructure, unique: str, history: History
) -> None:
    events_settings = settings_for(EventsSettings, infra, f"gw{unique}")
    settings = settings_for(RecognitionSettings, infra, f"gw{unique}")
    assert events_settings.kafka_topic_prefix == settings.kafka_topic_prefix
    system = f"legacy-cop-{unique}"
    try:
        async with (
            serving(events_bootstrap(events_settings), "events") as events,
            serving(bootstrap(settings), "recognition") as client,
        ):
            types = sorted({e.type for e in history.events})
            registered = await events.post(
                "/sources",
                json={"name": system, "types": types, "rate_limit_per_minute": 100_000},
            )
            assert registered.status_code == 201, registered.text
            key = registered.json()["api_key"]
            batch = [
                {**e.model_dump(mode="json", exclude_none=True), "source": f"{system}/export"}
                for e in history.in_order()
            ]
            sent = await events.post(
                "/ingest", json=batch, headers={"Authorization": f"Bearer {key}"}
            )
            assert sent.status_code == 200, sent.text
            assert sent.json()["accepted"] == len(batch), sent.json()
            problems = await every_period_differences(client, history)
    finally:
        await drop_database(infra, events_settings.mongodb_database)
        await drop_database(infra, settings.mongodb_database)
    assert problems == [], "\n".join(problems)


# --- alerts ---


def stagnation_history(suffix: str, name: str, attendance: Sequence[int]) -> History:
    """One session a month from March 2026, each with another facilitator (who checks in too,
    so each attendee count is one more than given)."""
    h = History(suffix, name)
    people = [f"p{n}" for n in range(1, 9)]
    hosts = [f"f{n}" for n in range(1, len(attendance) + 1)]
    h.created("2026-01-02 08:00", "f1")
    h.joined("2026-01-05 10:00", *hosts, *people)
    for n, count in enumerate(attendance):
        month = 3 + n
        h.held(f"2026-{month:02d}-10 18:00", f"s{n}", hosts[n], [], people[:count])
    return h


def single_facilitator_history(suffix: str, name: str, facilitators: Sequence[str]) -> History:
    """Sessions on these days of 2026 (as many as facilitators), each with the same attendees."""
    days = ["03-04", "03-18", "04-01", "04-15", "05-06"]
    h = History(suffix, name)
    h.created("2026-01-02 08:00", "ann")
    h.joined("2026-01-05 10:00", "ann", "bob", "cat", "dan", "eve")
    for n, facilitator in enumerate(facilitators):
        h.held(f"2026-{days[n]} 18:00", f"s{n}", facilitator, [], ["cat", "dan", "eve"])
    return h


def dominance_history(
    suffix: str, name: str, *, artifacts: int, revisions: int, others: Sequence[str]
) -> History:
    """In May 2026: ann publishes and revises, each of `others` gives one piece of feedback."""
    h = History(suffix, name)
    h.created("2026-01-02 08:00", "ann")
    h.joined("2026-01-05 10:00", "ann", *others)
    for n in range(artifacts):
        h.published(f"2026-05-{n + 2:02d} 10:00", f"p{n}", "ann")
    for n in range(revisions):
        h.revised(f"2026-05-{n + 12:02d} 10:00", f"p{n}", "ann")
    for n, member in enumerate(others):
        h.feedback(f"2026-05-{n + 20:02d} 09:00", "s-review", member, 4)
    return h


async def read_topic(bootstrap_servers: str, topic: str) -> list[ConsumerRecord[Any, Any]]:
    """Every record on the topic up to its current end (no group: all partitions, from 0)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        await consumer.start()
        parts = sorted(consumer.assignment())
        ends = await consumer.end_offsets(parts) if parts else {}

        async def behind() -> bool:
            positions = [await consumer.position(tp) for tp in parts]
            return any(pos < ends[tp] for pos, tp in zip(positions, parts, strict=True))

        records: list[ConsumerRecord[Any, Any]] = []
        deadline = time.monotonic() + 20
        while await behind():
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for batch in (await consumer.getmany(*parts, timeout_ms=300)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def raised_on_topic(
    infra: Infrastructure, settings: RecognitionSettings, community_id: str
) -> list[tuple[str, str]]:
    records = await read_topic(
        infra.kafka_bootstrap_servers, settings.kafka_topic_prefix + str(Topic.RECOGNITION)
    )
    return [
        (body(r)["data"]["alert"], body(r)["data"]["period"])
        for r in records
        if headers(r).get("ce_type") == ALERT_RAISED
        and body(r)["data"]["community_id"] == community_id
    ]


async def listed_alerts(client: httpx.AsyncClient, community_id: str) -> list[tuple[str, str]]:
    response = await client.get(f"/communities/{community_id}/alerts")
    assert response.status_code == 200, response.text
    return [(a["alert"], a["period"]) for a in response.json()["alerts"]]


async def check_alert_once(
    infra: Infrastructure,
    unique: str,
    raising: History,
    quiet: Sequence[History],
    expected: tuple[str, str],
) -> None:
    """`raising` gets exactly the `expected` alert, in the API and on the topic; `quiet` none.

    The quiet histories go first and are fully projected before the raising one is sent: once
    the raising one's alert shows, an evaluation ran with the quiet ones complete.
    """
    keys = reference.months("2026-01", last_ended_month())
    assert raising.alerts() == [expected]
    for history in (raising, *quiet):
        assert_unambiguous(history, keys)
    assert [q.alerts() for q in quiet] == [[] for _ in quiet]
    settings = settings_for(
        RecognitionSettings, infra, f"al{unique}", health_evaluation_interval_s=1
    )
    prefix, servers = settings.kafka_topic_prefix, infra.kafka_bootstrap_servers
    try:
        async with serving(bootstrap(settings), "recognition") as client:
            for history in quiet:
                await produce_all(servers, prefix, history.in_order())
            for history in quiet:
                problems = await trend_settled(client, history, keys)
                assert problems == [], "\n".join(problems)
            await produce_all(servers, prefix, raising.in_order())
            problems = await trend_settled(client, raising, keys)
            assert problems == [], "\n".join(problems)

            async def shown() -> list[tuple[str, str]]:
                return await listed_alerts(client, raising.community_id)

            await eventually(shown, timeout_s=30, what=f"the {expected[0]} alert")
            assert await listed_alerts(client, raising.community_id) == [expected]
            for history in quiet:
                assert await listed_alerts(client, history.community_id) == []

            async def published() -> list[tuple[str, str]]:
                return await raised_on_topic(infra, settings, raising.community_id)

            await eventually(published, timeout_s=30, what=f"{ALERT_RAISED} on the topic")
            assert await raised_on_topic(infra, settings, raising.community_id) == [expected]
            for history in quiet:
                assert await raised_on_topic(infra, settings, history.community_id) == []
    finally:
        await drop_database(infra, settings.mongodb_database)


async def test_stagnation_is_raised_once_for_the_fourth_month_of_falling_attendance(
    infra: Infrastructure, unique: str
) -> None:
    suffix = unique[:6]
    falling = stagnation_history(suffix, "falling", [6, 8, 7, 5, 3, 6])  # Apr > May > Jun > Jul
    level = stagnation_history(suffix, "level", [6, 8, 7, 5, 5, 6])  # Jul equals Jun
    await check_alert_once(infra, unique, falling, [level], ("stagnation", "2026-07"))


async def test_dominance_is_raised_once_when_one_of_five_contributors_has_over_80_percent(
    infra: Infrastructure, unique: str
) -> None:
    suffix = unique[:6]
    others = ["bob", "cat", "dan", "eve"]
    dominated = dominance_history(suffix, "dominated", artifacts=6, revisions=0, others=others)
    at_80 = dominance_history(suffix, "at80", artifacts=5, revisions=1, others=others)  # 16/20
    four = dominance_history(suffix, "four", artifacts=6, revisions=0, others=others[:3])
    assert dominated.health("2026-05")["top20_share"] == 0.8182
    assert at_80.health("2026-05")["top20_share"] == 0.8
    assert four.health("2026-05")["contributors_with_give"] == 4
    await check_alert_once(infra, unique, dominated, [at_80, four], ("dominance", "2026-05"))


async def test_single_facilitator_is_raised_once_for_four_sessions_by_one_person(
    infra: Infrastructure, unique: str
) -> None:
    suffix = unique[:6]
    # Four by ann (two in March, two in April), then bob in May: only April's last six qualify.
    alone = single_facilitator_history(suffix, "alone", ["ann", "ann", "ann", "ann", "bob"])
    three = single_facilitator_history(suffix, "three", ["ann", "ann", "ann"])
    shared = single_facilitator_history(suffix, "shared", ["ann", "ann", "ann", "bob"])
    await check_alert_once(infra, unique, alone, [three, shared], ("single_facilitator", "2026-04"))


def test_the_reference_reads_periods_as_the_issue_defines_them() -> None:
    q = reference.period("2026-Q1")
    assert (q.start, q.end) == (at("2026-01-01 00:00"), at("2026-04-01 00:00"))
    assert reference.period("2026-12").end == at("2027-01-01 00:00")
    assert reference.previous("2026-Q1") == "2025-Q4"
    assert reference.previous("2026-01") == "2025-12"
    assert reference.absence_factor([5, 3, 1, 1]) == 1
    assert reference.absence_factor([4, 3, 3]) == 2
    assert reference.top20_share([9, 1, 1, 1, 1, 1]) == round(10 / 14, 4)
