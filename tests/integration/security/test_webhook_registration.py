"""Registering a community's chat channel on the real notifier: an allowed host whose name
resolves (really, through the system resolver) to a loopback or other non-public address is
refused with a problem naming the channel's URL field, unless the settings allow its network."""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

from services.notifier.bootstrap import bootstrap
from services.notifier.settings import NotifierSettings
from tests.infra import Infrastructure
from tests.integration.apps import drop_database, serving, settings_for
from tests.problems import problem_of

pytestmark = pytest.mark.integration

Notifier = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def notifier(infra: Infrastructure, unique: str) -> AsyncIterator[Notifier]:
    databases: list[str] = []

    def running(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        settings = settings_for(
            NotifierSettings,
            infra,
            f"sec{unique}",
            chat_webhook_url=None,
            chat_allowed_hosts=["localhost", "127.0.0.1", "*.example.com"],
            dispatch_interval_s=600.0,
            **overrides,
        )
        databases.append(settings.mongodb_database)
        return serving(bootstrap(settings), "notifier")

    yield running
    for name in databases:
        await drop_database(infra, name)


def channels(*urls: str) -> dict[str, Any]:
    return {"channels": [{"id": f"ch{i}", "kind": "slack", "url": u} for i, u in enumerate(urls)]}


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8090/hooks/cop",  # a name that resolves to loopback
        "http://127.0.0.1:8090/hooks/cop",
        "http://[::1]:8090/hooks/cop",
    ],
)
async def test_an_allowed_host_resolving_to_loopback_is_refused_naming_the_field(
    notifier: Notifier, url: str
) -> None:
    community = f"c-{uuid.uuid4().hex[:8]}"
    async with notifier(chat_allowed_networks=[]) as client:
        put = await client.put(
            f"/communities/{community}/channels",
            json=channels("http://localhost:8090/ok", url) if "[::1]" in url else channels(url),
        )
        problem = problem_of(put, 422)
        if "[::1]" in url:  # ::1 is not on the host allowlist at all
            assert [e["field"] for e in problem["errors"]] == ["channels.0.url", "channels.1.url"]
            assert problem["errors"][1]["message"] == "host ::1 is not on the allowlist"
        else:
            assert problem["code"] == "address_not_allowed"
            assert problem["field"] == "channels.0.url"
            assert "not a public address" in problem["errors"][0]["message"]
        assert (await client.get(f"/communities/{community}/channels")).json() == []


async def test_a_name_that_does_not_resolve_is_refused(notifier: Notifier) -> None:
    community = f"c-{uuid.uuid4().hex[:8]}"
    async with notifier(chat_allowed_networks=[]) as client:
        put = await client.put(
            f"/communities/{community}/channels",
            json=channels("https://nowhere-at-all.invalid.example.com/hook"),
        )
    assert put.status_code == 422
    assert put.json()["code"] == "host_not_resolved"


async def test_loopback_is_accepted_where_the_settings_allow_its_network(
    notifier: Notifier,
) -> None:
    community = f"c-{uuid.uuid4().hex[:8]}"
    async with notifier(chat_allowed_networks=["127.0.0.0/8", "::1/128"]) as client:
        put = await client.put(
            f"/communities/{community}/channels", json=channels("http://localhost:8090/hooks")
        )
        assert put.status_code == 200, put.text
        listed = (await client.get(f"/communities/{community}/channels")).json()
    assert listed == [
        {"id": "ch0", "kind": "slack", "host": "localhost", "channel": None, "secret": None}
    ]


async def test_credentials_in_a_webhook_url_are_refused(notifier: Notifier) -> None:
    community = f"c-{uuid.uuid4().hex[:8]}"
    async with notifier() as client:
        put = await client.put(
            f"/communities/{community}/channels",
            json=channels("http://127.0.0.1@localhost:8090/hooks"),
        )
    assert put.status_code == 422
    assert put.json()["code"] == "credentials_in_url"
