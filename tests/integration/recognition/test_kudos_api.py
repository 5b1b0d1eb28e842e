"""Recognition against real Kafka, MongoDB-protocol server and Redis."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.recognition.bootstrap import bootstrap
from services.recognition.settings import RecognitionSettings
from shared.events.catalog import KudosGiven
from shared.events.envelope import CloudEvent, new_event
from tests.answers import answer_of
from tests.infra import Infrastructure
from tests.integration.apps import bearer, drop_database, serving, serving_anew, settings_for
from tests.integration.kafka_io import produce_event
from tests.integration.polling import eventually
from tests.problems import fields, problem_of

pytestmark = pytest.mark.integration


@dataclass
class Recognition:
    client: httpx.AsyncClient
    settings: RecognitionSettings


@pytest.fixture
async def recognition(infra: Infrastructure, unique: str) -> AsyncIterator[Recognition]:
    settings = settings_for(RecognitionSettings, infra, f"rec{unique}", kudos_allowance=4)
    async with serving_anew(infra, settings, bootstrap) as client:
        yield Recognition(client, settings)


def kudos_body(giver: str, *receivers: str, **extra: Any) -> dict[str, Any]:
    return {
        "from_id": giver,
        "to_ids": list(receivers),
        "community_id": "platform-guild",
        "message": "Thanks for untangling the flaky build",
        "value_tag": "helpfulness",
        **extra,
    }


def member() -> str:
    return f"m-{uuid.uuid4().hex[:8]}"


async def counts(client: httpx.AsyncClient, member_id: str) -> dict[str, Any]:
    return answer_of(await client.get(f"/members/{member_id}/kudos"))


async def test_given_kudos_is_published_projected_and_counted(recognition: Recognition) -> None:
    giver, receiver = member(), member()
    response = await recognition.client.post("/kudos?wait=true", json=kudos_body(giver, receiver))
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["applied"] is True
    kudos = (await recognition.client.get(f"/kudos/{accepted['kudos_id']}")).json()
    assert kudos["event_id"] == accepted["event_id"]
    assert kudos["counted_for"] == [receiver]
    assert (await counts(recognition.client, receiver))["received"] == 1
    assert (await counts(recognition.client, giver))["given"] == 1


async def test_redelivered_event_is_counted_once(
    infra: Infrastructure, recognition: Recognition
) -> None:
    giver, receiver = member(), member()

    def given(from_id: str, message: str) -> CloudEvent:
        kudos = KudosGiven(
            kudos_id=f"k-{uuid.uuid4().hex[:8]}", from_id=from_id, to_ids=[receiver],
            community_id="platform-guild", message=message, value_tag="quality",
        )  # fmt: skip
        return new_event(kudos, source="test/redelivery")

    first, second = given(giver, "great demo"), given(giver, "and the write-up")
    marker = given(f"{giver}-marker", "marker")
    prefix = recognition.settings.kafka_topic_prefix
    for event in (first, first, second, first, marker):
        await produce_event(infra.kafka_bootstrap_servers, prefix, event)

    async def marker_applied() -> bool:
        response = await recognition.client.get(f"/kudos/{marker.data['kudos_id']}")
        return response.status_code == 200 and response.json()["status"] == "judged"

    # Same community key, same partition: once the marker shows, every duplicate before it
    # has been consumed too.
    await eventually(marker_applied, what="the marker kudos after the duplicates")
    assert (await counts(recognition.client, receiver))["received"] == 3
    assert (await counts(recognition.client, giver))["given"] == 2


async def test_self_kudos_is_refused_with_problem_json(recognition: Recognition) -> None:
    someone = member()
    response = await recognition.client.post("/kudos", json=kudos_body(someone, someone))
    problem = problem_of(response, 409)
    assert problem["code"] == "self_kudos"
    assert problem["type"] == "urn:cop:problem:kudos:self_kudos"
    assert problem["status"] == 409


async def test_invalid_request_names_every_wrong_field(recognition: Recognition) -> None:
    response = await recognition.client.post(
        "/kudos",
        json={"from_id": "ok", "to_ids": [], "community_id": "c", "message": "", "value_tag": "X!"},
    )
    assert {"to_ids", "message", "value_tag"} <= fields(problem_of(response, 422))


async def test_allowance_is_enforced_per_period_and_refusals_do_not_use_it(
    recognition: Recognition,
) -> None:
    giver = member()
    refused = await recognition.client.post("/kudos", json=kudos_body(giver, giver))
    assert refused.status_code == 409
    for _ in range(4):
        ok = await recognition.client.post("/kudos", json=kudos_body(giver, member()))
        assert ok.status_code == 202
    over = await recognition.client.post("/kudos", json=kudos_body(giver, member()))
    assert over.status_code == 429
    assert over.json()["code"] == "allowance_exhausted"


async def test_policy_breaking_kudos_from_outside_is_recorded_but_not_counted(
    infra: Infrastructure, recognition: Recognition
) -> None:
    bot_user, colleague = member(), member()
    event = new_event(
        KudosGiven(
            kudos_id=f"k-{uuid.uuid4().hex[:8]}", from_id=bot_user, to_ids=[bot_user, colleague],
            community_id="platform-guild", message="via chat bot", value_tag="collaboration",
        ),
        source="chat-bot",
    )  # fmt: skip
    await produce_event(
        infra.kafka_bootstrap_servers, recognition.settings.kafka_topic_prefix, event
    )

    async def recorded() -> dict[str, Any] | None:
        response = await recognition.client.get(f"/kudos/{event.data['kudos_id']}")
        judged = response.status_code == 200 and response.json()["status"] == "judged"
        return response.json() if judged else None

    kudos = await eventually(recorded, what="the chat bot's kudos judged")
    assert kudos["recipients"] == [
        {"member_id": bot_user, "verdict": "self_kudos"},
        {"member_id": colleague, "verdict": "counted"},
    ]
    assert kudos["counted_for"] == [colleague]
    assert (await counts(recognition.client, bot_user))["received"] == 0
    assert (await counts(recognition.client, colleague))["received"] == 1


async def test_projection_rebuilt_by_replay_equals_the_live_one(
    infra: Infrastructure, recognition: Recognition, unique: str
) -> None:
    giver, a, b = member(), member(), member()
    for receivers in ((a,), (a, b), (b,)):
        response = await recognition.client.post(
            "/kudos?wait=true", json=kudos_body(giver, *receivers)
        )
        assert response.json()["applied"] is True
    live = {m: await counts(recognition.client, m) for m in (giver, a, b)}

    replay = settings_for(
        RecognitionSettings,
        infra,
        f"rec{unique}",
        mongodb_database=f"rec{unique}_replayed",
        kafka_consumer_group=f"replay-{unique}",
    )
    async with serving(bootstrap(replay), "replayed") as replayed:

        async def caught_up() -> bool:
            return bool((await counts(replayed, giver))["given"] == live[giver]["given"])

        await eventually(caught_up, what="the replayed projection to catch up")
        rebuilt = {m: await counts(replayed, m) for m in (giver, a, b)}
    await drop_database(infra, replay.mongodb_database)
    assert rebuilt == live


async def test_kudos_needs_a_valid_token_and_is_given_in_the_callers_own_name(
    recognition: Recognition,
) -> None:
    ann, bob = member(), member()
    body = kudos_body(ann, bob)
    anonymous = await recognition.client.post("/kudos", json=body, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.headers["content-type"] == "application/problem+json"
    forged = await recognition.client.post(
        "/kudos", json=body, headers=bearer(ann, secret="another-secret-that-is-32-bytes-long")
    )
    assert forged.status_code == 401
    as_bob = await recognition.client.post("/kudos", json=body, headers=bearer(bob))
    assert as_bob.status_code == 403
    assert as_bob.json()["type"] == "urn:cop:problem:auth:not-self"

    without_giver = {k: v for k, v in body.items() if k != "from_id"}
    own = await recognition.client.post("/kudos?wait=true", json=without_giver, headers=bearer(ann))
    assert own.status_code == 202
    kudos = (await recognition.client.get(f"/kudos/{own.json()['kudos_id']}")).json()
    assert kudos["from_id"] == ann


async def test_an_expired_token_is_refused(recognition: Recognition) -> None:
    from shared.auth import issue_token

    expired = issue_token(recognition.settings.auth_token_secret, "ann", ttl_s=-120)
    response = await recognition.client.post(
        "/kudos", json=kudos_body("ann", "bob"), headers={"Authorization": f"Bearer {expired}"}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "the token has expired"


async def test_an_unreachable_redis_answers_503_not_500(infra: Infrastructure, unique: str) -> None:
    settings = settings_for(
        RecognitionSettings, infra, f"rec{unique}", redis_url="redis://127.0.0.1:1/0"
    )
    app = bootstrap(settings)
    async with serving(app, "recognition") as client:
        response = await client.post("/kudos", json=kudos_body("ann", "bob"))
        ready = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"] == "application/problem+json"
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"].startswith("error")
    await drop_database(infra, settings.mongodb_database)
