"""The events service's admin API for source systems (`/sources`), and `copctl sources` using it
over real HTTP, on the real broker, MongoDB protocol and Redis."""

import asyncio
import subprocess
from typing import Any

import httpx
import pytest

from services.events.bootstrap import bootstrap
from services.events.settings import EventsSettings
from tests.copctl_process import run_copctl
from tests.infra import Infrastructure
from tests.integration.apps import bearer, drop_database, listening, settings_for
from tests.integration.events.conftest import EventsApp
from tests.integration.events.inbound import FEEDBACK, PROFILE, auth, profile_event
from tests.problems import problem_of

pytestmark = pytest.mark.integration


async def test_an_admin_registers_a_source_and_its_key_is_answered_once(events: EventsApp) -> None:
    response = await events.client.post(
        "/sources", json={"name": "wiki", "types": [PROFILE, FEEDBACK, PROFILE]}
    )
    assert response.status_code == 201, response.text
    registered = response.json()
    key = registered.pop("api_key")
    assert key.startswith("cop_")
    assert registered == {
        "name": "wiki",
        "types": sorted([FEEDBACK, PROFILE]),
        "rate_limit_per_minute": events.settings.ingest_default_rate_limit_per_minute,
    }
    ingested = await events.client.post("/ingest", json=profile_event("wiki"), headers=auth(key))
    assert ingested.status_code == 202, ingested.text

    listed = await events.client.get("/sources")
    assert listed.status_code == 200
    assert key not in listed.text
    (wiki,) = listed.json()
    assert wiki.pop("created_at")
    assert wiki == {**registered, "active": True}


async def test_a_name_already_registered_is_refused_with_409_even_once_revoked(
    events: EventsApp,
) -> None:
    first = await events.client.post(
        "/sources", json={"name": "wiki", "types": [PROFILE], "rate_limit_per_minute": 5}
    )
    assert first.status_code == 201
    again = await events.client.post("/sources", json={"name": "wiki", "types": [FEEDBACK]})
    problem = problem_of(again, 409)
    assert problem["type"] == "urn:cop:problem:sources:already-registered"
    assert problem["detail"] == "source 'wiki' is already registered"
    assert (await events.client.post("/sources/wiki/revoke")).status_code == 204
    revived = await events.client.post("/sources", json={"name": "wiki", "types": [PROFILE]})
    assert revived.status_code == 409
    (wiki,) = (await events.client.get("/sources")).json()
    assert (wiki["types"], wiki["rate_limit_per_minute"]) == ([PROFILE], 5)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"name": "wiki", "types": [PROFILE, "cop.nope.v1"]},
            "types.1",
            "unknown event type cop.nope.v1 (see `copctl types`)",
        ),
        ({"name": "wiki", "types": []}, "types", "List should have at least 1 item"),
        ({"name": "a/b", "types": [PROFILE]}, "name", "String should match pattern"),
        (
            {"name": "wiki", "types": [PROFILE], "rate_limit_per_minute": 0},
            "rate_limit_per_minute",
            "Input should be greater than or equal to 1",
        ),
        ({"types": [PROFILE]}, "name", "Field required"),
    ],
)
async def test_a_wrong_registration_is_422_naming_the_field_and_registers_nothing(
    events: EventsApp, body: dict[str, Any], field: str, message: str
) -> None:
    response = await events.client.post("/sources", json=body)
    (error,) = problem_of(response, 422)["errors"]
    assert error["field"] == field
    assert error["message"].startswith(message)
    assert (await events.client.get("/sources")).json() == []


async def test_only_an_admin_may_register_list_or_revoke_sources(events: EventsApp) -> None:
    registration = {"name": "wiki", "types": [PROFILE]}
    member = bearer("ada")
    other_secret = bearer("ops", admin=True, secret="another-secret-of-at-least-32-chars!")
    nobody = {"Authorization": ""}
    for headers, status in ((member, 403), (other_secret, 401), (nobody, 401)):
        answers = [
            await events.client.post("/sources", json=registration, headers=headers),
            await events.client.get("/sources", headers=headers),
            await events.client.post("/sources/wiki/revoke", headers=headers),
        ]
        assert [a.status_code for a in answers] == [status] * 3
        assert all(a.headers["content-type"] == "application/problem+json" for a in answers)
    assert (await events.client.get("/sources")).json() == []


async def test_a_revoked_source_gets_401_and_is_listed_as_revoked(events: EventsApp) -> None:
    created = await events.client.post("/sources", json={"name": "wiki", "types": [PROFILE]})
    key = created.json()["api_key"]
    revoked = await events.client.post("/sources/wiki/revoke")
    assert (revoked.status_code, revoked.content) == (204, b"")
    refused = await events.client.post("/ingest", json=profile_event("wiki"), headers=auth(key))
    assert refused.status_code == 401
    (wiki,) = (await events.client.get("/sources")).json()
    assert wiki["active"] is False
    assert (await events.client.post("/sources/wiki/revoke")).status_code == 204
    unknown = await events.client.post("/sources/nobody/revoke")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "no source nobody"


async def copctl(events_url: str, secret: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"EVENTS_URL": events_url, "AUTH_TOKEN_SECRET": secret}
    return await asyncio.to_thread(run_copctl, "sources", *args, env=env)


async def test_copctl_sources_registers_lists_and_revokes_through_the_events_service(
    infra: Infrastructure, unique: str
) -> None:
    secret = f"copctl-test-secret-{unique}-{unique}"
    settings = settings_for(EventsSettings, infra, f"cli{unique}", auth_token_secret=secret)
    try:
        async with listening(bootstrap(settings)) as url:
            added = await copctl(url, secret, "add", "wiki", "--types", f"{PROFILE},{FEEDBACK}")
            assert added.returncode == 0, added.stderr
            registered, key_line = added.stdout.splitlines()
            assert registered == f"registered wiki for {FEEDBACK}, {PROFILE}"
            prefix = "API key (store it now, it is not shown again): "
            assert key_line.startswith(prefix + "cop_")
            key = key_line.removeprefix(prefix)
            async with httpx.AsyncClient(base_url=url) as http:
                sent = await http.post("/ingest", json=profile_event("wiki"), headers=auth(key))
                assert sent.status_code == 202, sent.text

                listed = await copctl(url, secret, "list")
                assert listed.returncode == 0, listed.stderr
                assert listed.stdout.split() == [
                    "wiki", "active", "6000/min", f"{FEEDBACK},", PROFILE,
                ]  # fmt: skip
                assert key not in listed.stdout

                again = await copctl(url, secret, "add", "wiki", "--types", PROFILE)
                assert again.returncode == 1
                assert "source 'wiki' is already registered" in again.stderr
                unknown_type = await copctl(url, secret, "add", "x", "--types", "cop.nope.v1")
                assert unknown_type.returncode == 2
                assert "types.0: unknown event type cop.nope.v1" in unknown_type.stderr
                wrong_secret = await copctl(url, "not-the-service-secret-" * 2, "list")
                assert wrong_secret.returncode == 1
                assert "is AUTH_TOKEN_SECRET the one the service uses?" in wrong_secret.stderr

                revoked = await copctl(url, secret, "revoke", "wiki")
                assert (revoked.returncode, revoked.stdout) == (0, "revoked wiki\n")
                refused = await http.post("/ingest", json=profile_event("wiki"), headers=auth(key))
                assert refused.status_code == 401
                assert "revoked" in (await copctl(url, secret, "list")).stdout
                no_such = await copctl(url, secret, "revoke", "nobody")
                assert (no_such.returncode, no_such.stderr.strip()) == (1, "no source nobody")

        down = await copctl(url, secret, "list")
        assert down.returncode == 1
        assert f"cannot reach the events service at {url}" in down.stderr
    finally:
        await drop_database(infra, settings.mongodb_database)
