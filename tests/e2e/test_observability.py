"""End to end, observability: the spans the four processes really export form one trace per
request, across Kafka, MongoDB, SMTP and the chat webhook; `/metrics` counts the traffic; the
logs are JSON lines that carry the trace id and no secret."""

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.events.commands.ingest import platform_id
from services.recognition.adapters.decisions import judgement_id
from tests.e2e.platform import Platform, Span, copctl, give_kudos, running_platform
from tests.infra import Infrastructure
from tests.integration.apps import bearer
from tests.integration.polling import eventually

pytestmark = pytest.mark.e2e

WEBHOOK_SECRET = f"whsec-{secrets.token_hex(8)}"
WEBHOOK_PATH = f"/hooks/{secrets.token_hex(12)}"


@pytest.fixture(scope="module")
def platform(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    base = tmp_path_factory.mktemp("observability")
    namespace = f"obs{uuid.uuid4().hex[:8]}"
    exporters_off = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}
    with running_platform(
        infra,
        base,
        namespace,
        webhook_path=WEBHOOK_PATH,
        webhook_secret=WEBHOOK_SECRET,
        env=exporters_off,
    ) as running_one:
        yield running_one


# --- reading a trace ------------------------------------------------------------------------


def one(spans: list[Span], what: str, **where: Any) -> Span:
    """The single span that matches; `attr__x_y` names attribute `x.y`."""
    found = [s for s in spans if _matches(s, where)]
    assert len(found) == 1, f"{what}: expected one span matching {where}, found {len(found)}"
    return found[0]


def _matches(span: Span, where: dict[str, Any]) -> bool:
    for key, wanted in where.items():
        if key.startswith("attr__"):
            got = span["attributes"].get(key[6:].replace("_", "."))
        else:
            got = span.get(key)
        if callable(wanted) and not isinstance(wanted, str):
            if not wanted(got):
                return False
        elif got != wanted:
            return False
    return True


def descendants(spans: list[Span], root: Span) -> list[Span]:
    children: dict[str, list[Span]] = {}
    for span in spans:
        children.setdefault(span["parent_span_id"], []).append(span)
    found, todo = [], [root["span_id"]]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child["span_id"])
    return found


def mongo_writes(spans: list[Span]) -> set[str]:
    """The collections written by these MongoDB client spans."""
    return {
        s["attributes"].get("db.collection.name", "")
        for s in spans
        if s["attributes"].get("db.system.name") == "mongodb"
        and s["name"].rpartition(".")[2] in ("update", "insert", "findAndModify")
    }


def assert_consumed(consumer: Span, producer: Span, group: str) -> None:
    """A consumer span continues its producer's span and describes the record it handled."""
    assert consumer["kind"] == "CONSUMER"
    assert consumer["trace_id"] == producer["trace_id"]
    assert consumer["parent_span_id"] == producer["span_id"]
    got, sent = consumer["attributes"], producer["attributes"]
    assert got["messaging.system"] == "kafka"
    assert got["messaging.operation.type"] == "process"
    assert got["messaging.destination.name"] == sent["messaging.destination.name"]
    assert got["messaging.destination.partition.id"] == sent["messaging.destination.partition.id"]
    assert got["messaging.kafka.offset"] == sent["messaging.kafka.offset"]
    assert got["messaging.message.id"] == sent["messaging.message.id"]
    assert got["messaging.consumer.group.name"] == group


def batch_groups(spans: list[Span], topic: str) -> set[str]:
    """The consumer groups with a batch span of `topic` among the spans."""
    return {
        s["attributes"].get("messaging.consumer.group.name", "")
        for s in spans
        if s["name"] == f"process {topic}"
    }


def batch_links(spans: list[Span], topic: str, group: str, message_id: str) -> bool:
    """Whether a batch span of `group` on `topic` links the record sent with `message_id`: the
    batch that applied it is exported (the group's batch of an earlier record of the same
    request may have been exported before it)."""
    sent = {
        f"{s['trace_id']}-{s['span_id']}"
        for s in spans
        if s["kind"] == "PRODUCER" and s["attributes"].get("messaging.message.id") == message_id
    }
    return any(
        sent & set(s["link_spans"])
        for s in spans
        if s["name"] == f"process {topic}"
        and s["attributes"].get("messaging.consumer.group.name") == group
    )


def assert_batch(spans: list[Span], producer: Span, group: str) -> Span:
    """The batch span of `group` that applied the producer's record: it links to it and (a
    batch of one request's records) stays in its trace, as a child of the producer span of the
    batch's first record — this one, or an earlier record of the same request fetched in the
    same batch (the kudos given and its judgement, when the judge was quick)."""
    link = f"{producer['trace_id']}-{producer['span_id']}"
    batch = one(
        [s for s in spans if link in s["link_spans"]],
        f"the batch of {group}",
        name=f"process {producer['attributes']['messaging.destination.name']}",
        kind="CONSUMER",
        attr__messaging_consumer_group_name=group,
    )
    assert batch["trace_id"] == producer["trace_id"]
    assert f"{batch['trace_id']}-{batch['parent_span_id']}" in batch["link_spans"]
    assert batch["attributes"]["messaging.batch.message_count"] >= 1
    return batch


def assert_produced(span: Span, parent: Span, topic: str, event_id: str) -> None:
    assert span["kind"] == "PRODUCER"
    assert span["parent_span_id"] == parent["span_id"]
    attributes = span["attributes"]
    assert span["name"] == f"send {topic}"
    assert attributes["messaging.system"] == "kafka"
    assert attributes["messaging.operation.type"] == "send"
    assert attributes["messaging.destination.name"] == topic
    assert attributes["messaging.message.id"] == event_id
    assert attributes["messaging.destination.partition.id"].isdigit()
    assert isinstance(attributes["messaging.kafka.offset"], int)


# --- the tests ------------------------------------------------------------------------------


async def _profiles(platform: Platform, http: httpx.AsyncClient, *members: str) -> None:
    for member in members:
        response = await http.put(
            f"{platform.urls['events']}/members/{member}/profile",
            json={"name": member.title(), "email": f"{member}@example.com", "team": "compilers"},
            headers=bearer(member),
        )
        assert response.status_code == 202

    async def notifier_knows_all() -> bool:
        found = [await http.get(f"{platform.urls['notifier']}/profiles/{m}") for m in members]
        return all(r.status_code == 200 for r in found)

    await eventually(notifier_knows_all, what="the profiles in the notifier", timeout_s=40)


@pytest.fixture(scope="module")
async def kudos(platform: Platform) -> dict[str, str]:
    """One kudos over HTTP, delivered by e-mail and chat."""
    giver, receiver = f"ada{uuid.uuid4().hex[:6]}", f"grace{uuid.uuid4().hex[:6]}"
    token = copctl("token", giver).strip()
    async with httpx.AsyncClient(timeout=10, headers=bearer("ops", admin=True)) as http:
        await _profiles(platform, http, giver, receiver)
        response = await give_kudos(http, platform, token, receiver, "Thanks for pairing!")
    assert response.status_code == 202
    given = response.json()

    judged_id = judgement_id(given["kudos_id"])

    async def delivered() -> bool:
        mailed = platform.sinks.mails_to(f"{receiver}@example.com")
        posted = [p for p in platform.sinks.posts() if p["body"]["event"]["id"] == judged_id]
        return bool(mailed and posted)

    await eventually(delivered, what="the e-mail and the chat post", timeout_s=40)
    return {"event_id": given["event_id"], "kudos_id": given["kudos_id"], "token": token}


async def test_one_kudos_is_one_trace_from_the_request_to_the_smtp_send_and_the_webhook_post(
    platform: Platform, kudos: dict[str, str]
) -> None:
    prefix = platform.topic_prefix
    recognition_topic = f"{prefix}cop.recognition"
    judged_id = judgement_id(kudos["kudos_id"])

    async def whole_trace() -> list[Span] | None:
        spans = platform.spans()
        requests = [s for s in spans if s["name"] == "POST /kudos"]
        if len(requests) != 1:
            return None
        trace = [s for s in spans if s["trace_id"] == requests[0]["trace_id"]]
        names = {s["name"] for s in trace}
        done = {"smtp send", "webhook POST", "recognition handle cop.kudos.judged.v1"}
        # A batch span ends after its records' spans, and each process exports in batches:
        # wait for the batch spans asserted on below too.
        batches = batch_groups(trace, recognition_topic)
        whole = (
            done <= names
            and {platform.group("recognition", "judge"), platform.group("recognition")} <= batches
        )
        applied = batch_links(trace, recognition_topic, platform.group("recognition"), judged_id)
        return trace if whole and applied else None

    # The platform's first kudos: generous on a machine that runs other tests beside it.
    trace = await eventually(
        whole_trace, what="the kudos' trace, SMTP and webhook included", timeout_s=60
    )

    request = one(trace, "the HTTP request", name="POST /kudos", parent_span_id=None)
    assert request["kind"] == "SERVER"
    assert request["service"] == "cop-recognition"
    assert request["attributes"]["http.route"] == "/kudos"
    assert request["attributes"]["http.response.status_code"] == 202

    given = one(
        trace, "kudos.given sent", kind="PRODUCER", attr__messaging_message_id=kudos["event_id"]
    )
    assert_produced(given, request, recognition_topic, kudos["event_id"])

    group = platform.group("recognition")
    judge = one(trace, "the judge's handling", name="recognition-judge handle cop.kudos.given.v1")
    assert_consumed(judge, given, f"{group}-judge")
    assert judge["attributes"]["cloudevents.event_type"] == "cop.kudos.given.v1"
    judge_batch = assert_batch(trace, given, f"{group}-judge")
    assert "kudos_allowances" in mongo_writes(descendants(trace, judge_batch))

    judged = one(trace, "kudos.judged sent", kind="PRODUCER", attr__messaging_message_id=judged_id)
    judging = one(trace, "the judgement", name="recognition judge kudos")
    assert_produced(judged, judging, recognition_topic, judged_id)

    # recognition's projection: the ledger entry and the kudos' record, in MongoDB
    projected = one(trace, "the projection", name="recognition handle cop.kudos.judged.v1")
    assert_consumed(projected, judged, group)
    projection_batch = assert_batch(trace, judged, group)
    written = mongo_writes(descendants(trace, projection_batch))
    assert {"community_months", "kudos"} <= written, written

    # the notifier: one e-mail and one chat post, each a client span of the same trace
    notified = one(trace, "the notifier's handling", name="notifier handle cop.kudos.judged.v1")
    assert_consumed(notified, judged, platform.group("notifier"))
    below = descendants(trace, notified)
    smtp = one(below, "the SMTP send", name="smtp send")
    webhook = one(below, "the webhook post", name="webhook POST")
    assert {smtp["service"], webhook["service"]} == {"cop-notifier"}
    assert smtp["kind"] == webhook["kind"] == "CLIENT"
    assert smtp["attributes"]["server.address"] == "127.0.0.1"
    assert smtp["attributes"]["server.port"] == platform.sinks.smtp_port
    assert webhook["attributes"]["http.response.status_code"] == 200
    assert smtp["status"] != "ERROR"
    assert webhook["status"] != "ERROR"
    # their outcome, and no secret: the webhook's path is its token
    assert smtp["attributes"]["cop.delivery.outcome"] == "delivered"
    assert webhook["attributes"]["cop.delivery.outcome"] == "delivered"
    assert webhook["attributes"]["url.full"] == (
        f"http://127.0.0.1:{platform.sinks.chat_port}/REDACTED"
    )
    assert all(WEBHOOK_PATH not in json.dumps(s) for s in trace)


def _session(system: str, ce_id: str, **extensions: str) -> dict[str, Any]:
    data = {
        "session_id": f"s-{ce_id}",
        "community_id": "platform-guild",
        "title": "Journal club",
        "format": "journal_club",
        "starts_at": "2026-12-03T12:00:00Z",
        "duration_minutes": 45,
        "facilitator_id": "ada",
        "location": "https://meet.example.com/jc",
    }
    return {
        "specversion": "1.0",
        "id": ce_id,
        "source": system,
        "type": "cop.session.scheduled.v1",
        "partitionkey": "platform-guild",
        "time": "2026-11-21T09:00:00Z",
        **extensions,
        "data": data,
    }


async def _batches_applied(platform: Platform, trace_id: str) -> None:
    """Wait until events and knowledge have applied the first event: a batch that also held
    the second (another trace) would be a trace of its own, linking to both (by design), and
    the test is of a batch of one request's events, which stays in the request's trace."""
    topic = f"{platform.topic_prefix}cop.sessions"
    groups = {platform.group("events"), platform.group("knowledge")}

    async def applied() -> bool:
        return groups <= batch_groups(
            [s for s in platform.spans() if s["trace_id"] == trace_id], topic
        )

    await eventually(applied, what="the first event's batches", timeout_s=60)


@dataclass(frozen=True)
class Ingested:
    system: str
    api_key: str
    # (trace id, the caller's span id, the sender's event id) per accepted event
    traced: list[tuple[str, str, str]]


@pytest.fixture(scope="module")
async def ingested(platform: Platform) -> Ingested:
    """Known traffic on POST /ingest: 2 events accepted (one with the caller's traceparent
    header, one with the CloudEvents tracing extension), 1 duplicate, 1 rejected."""
    events = platform.urls["events"]
    system = f"cal{uuid.uuid4().hex[:6]}"
    header_trace = (secrets.token_hex(16), secrets.token_hex(8), "e-1")
    extension_trace = (secrets.token_hex(16), secrets.token_hex(8), "e-2")
    async with httpx.AsyncClient(timeout=10, headers=bearer("ops", admin=True)) as http:
        added = await http.post(
            f"{events}/sources", json={"name": system, "types": ["cop.session.scheduled.v1"]}
        )
        assert added.status_code == 201, added.text
        api_key = added.json()["api_key"]
        key = {"Authorization": f"Bearer {api_key}"}
        trace_id, span_id, ce_id = header_trace
        first = await http.post(
            f"{events}/ingest",
            json=_session(system, ce_id),
            headers={**key, "traceparent": f"00-{trace_id}-{span_id}-01"},
        )
        assert first.status_code == 202, first.text
        await _batches_applied(platform, header_trace[0])
        trace_id, span_id, ce_id = extension_trace
        second = await http.post(
            f"{events}/ingest",
            json=_session(system, ce_id, traceparent=f"00-{trace_id}-{span_id}-01"),
            headers=key,
        )
        assert second.status_code == 202, second.text
        again = await http.post(f"{events}/ingest", json=_session(system, "e-1"), headers=key)
        assert again.status_code == 200
        wrong = {**_session(system, "e-3"), "type": "cop.nope.v1"}
        refused = await http.post(f"{events}/ingest", json=wrong, headers=key)
        assert refused.status_code == 422
    return Ingested(system, api_key, [header_trace, extension_trace])


async def test_an_ingested_event_continues_the_callers_trace(
    platform: Platform, ingested: Ingested
) -> None:
    topic = f"{platform.topic_prefix}cop.sessions"
    wanted = {
        "events handle cop.session.scheduled.v1",
        "notifier handle cop.session.scheduled.v1",
    }
    for trace_id, parent_id, ce_id in ingested.traced:
        event_id = platform_id(ingested.system, ce_id)

        async def traced(trace_id: str = trace_id) -> list[Span] | None:
            trace = [s for s in platform.spans() if s["trace_id"] == trace_id]
            names = {s["name"] for s in trace}
            batches = batch_groups(trace, topic)
            return (
                trace
                if wanted <= names
                and {platform.group("events"), platform.group("knowledge")} <= batches
                else None
            )

        trace = await eventually(traced, what=f"the trace of {ce_id}", timeout_s=60)
        ingest = one(trace, "the gateway's judgement", name="ingest cop.session.scheduled.v1")
        if ce_id == "e-1":
            request = one(trace, "the HTTP request", name="POST /ingest")
            assert request["kind"] == "SERVER"
            assert request["parent_span_id"] == parent_id  # the caller's span
            assert ingest["parent_span_id"] == request["span_id"]
        else:
            assert ingest["parent_span_id"] == parent_id  # the event's own traceparent
            assert len(ingest["links"]) == 1  # to the HTTP request's trace
        produced = one(
            trace, "the routed event", kind="PRODUCER", attr__messaging_message_id=event_id
        )
        assert_produced(produced, ingest, topic, event_id)
        handled = one(trace, "events' projection", name="events handle cop.session.scheduled.v1")
        assert_consumed(handled, produced, platform.group("events"))
        batch = assert_batch(trace, produced, platform.group("events"))
        assert mongo_writes(descendants(trace, batch))
        # A batch the notifier retried (a write that timed out on a busy machine) handles the
        # record again, in another span of the same trace: each continues the producer's span.
        notified = [s for s in trace if s["name"] == "notifier handle cop.session.scheduled.v1"]
        assert notified
        for attempt in notified:
            assert_consumed(attempt, produced, platform.group("notifier"))
        assert_batch(
            trace, produced, platform.group("knowledge")
        )  # knowledge reads the topic, skips it


Samples = dict[frozenset[tuple[str, str]], float]


def samples(text: str, name: str) -> Samples:
    """A metric's samples in the Prometheus text format, by their labels."""
    found = {}
    for line in text.splitlines():
        if not line.startswith((name + "{", name + " ")):
            continue
        series, _, number = line.rpartition(" ")
        labels: set[tuple[str, str]] = set()
        if "{" in series:
            for pair in series[series.index("{") + 1 : -1].split('",'):
                if pair:
                    k, _, v = pair.partition("=")
                    labels.add((k, v.strip('"')))
        found[frozenset(labels)] = float(number)
    return found


def total(found: Samples, **labels: str) -> float:
    wanted = set(labels.items())
    matching = [v for k, v in found.items() if wanted <= k]
    assert matching, f"no sample with {labels} in {list(found)}"
    return sum(matching)


async def test_metrics_count_the_traffic(
    platform: Platform, kudos: dict[str, str], ingested: Ingested
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{platform.urls['events']}/metrics")).text
        ingest = samples(text, "cop_ingest_events_total")
        source = ingested.system
        assert total(ingest, outcome="accepted", cop_via="http", cop_source=source) == 2
        assert total(ingest, outcome="duplicate", cop_via="http", cop_source=source) == 1
        assert total(ingest, outcome="rejected", cop_via="http", cop_source=source) == 1
        durations = samples(text, "http_server_request_duration_seconds_count")
        assert total(durations, http_route="/ingest", http_request_method="POST") == 4

        async def judge_caught_up() -> str | None:
            text = (await http.get(f"{platform.urls['recognition']}/metrics")).text
            lag = samples(text, "cop_consumer_lag")
            group = ("messaging_consumer_group_name", platform.group("recognition", "judge"))
            judge = [v for k, v in lag.items() if group in k]
            return text if judge and not any(judge) else None

        text = await eventually(judge_caught_up, what="the judge's lag measured, and 0")
    consumed = samples(text, "cop_events_consumed_total")
    given, judged = "cop.kudos.given.v1", "cop.kudos.judged.v1"
    judge_group, projection = platform.group("recognition", "judge"), platform.group("recognition")
    group = "messaging_consumer_group_name"
    assert total(consumed, cloudevents_event_type=given, **{group: judge_group}) == 1
    assert total(consumed, cloudevents_event_type=judged, **{group: projection}) == 1
    assert all(v == 0 for v in samples(text, "cop_events_failed_total").values())
    handled = samples(text, "cop_handler_duration_seconds_count")
    assert total(handled, cloudevents_event_type=judged) == 1
    assert total(samples(text, "cop_batch_duration_seconds_count"), **{group: judge_group}) >= 1
    dlq = f"{platform.topic_prefix}cop.dlq.recognition"
    assert total(samples(text, "cop_dlq_size"), messaging_destination_name=dlq) == 0
    requests = samples(text, "http_server_request_duration_seconds_count")
    assert total(requests, http_route="/kudos", http_response_status_code="202") == 1


async def test_log_lines_are_json_with_the_requests_trace_id_and_no_secret(
    platform: Platform, kudos: dict[str, str], ingested: Ingested
) -> None:
    request = one(platform.spans(), "the kudos request", name="POST /kudos")
    lines = platform.log_lines("recognition")
    # every line a service wrote after its start header is one JSON object
    records = [json.loads(line) for line in lines if line and not line.startswith("--- ")]
    ours = [r for r in records if r.get("trace_id") == request["trace_id"]]
    assert any(r["message"].startswith("POST /kudos answered 202") for r in ours), ours
    for record in ours:
        assert record["span_id"]
        assert record["service"] == "cop-recognition"
    services = ("events", "knowledge", "recognition", "notifier")
    everything = "\n".join(line for name in services for line in platform.log_lines(name))
    for secret in (WEBHOOK_SECRET, WEBHOOK_PATH, kudos["token"], ingested.api_key):
        assert secret not in everything
