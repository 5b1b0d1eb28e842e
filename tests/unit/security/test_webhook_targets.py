"""Chat webhook targets: the host allowlist, and no private, loopback, link-local or reserved
address unless a network allows it — at registration and at the moment of connecting, so a
rebinding DNS answer cannot slip through."""

import asyncio
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from services.notifier.adapters.webhook_targets import (
    LOOPBACK,
    TargetPolicy,
    TargetRefused,
    guarded_session,
    networks,
)
from services.notifier.settings import NotifierSettings


def resolving(answers: dict[str, list[str]]) -> TargetPolicy:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    return TargetPolicy(
        allowed_hosts=("hooks.slack.com", "*.example.com", "localhost", "127.0.0.1"),
        resolve=resolve,
    )


async def refused(policy: TargetPolicy, url: str) -> TargetRefused:
    with pytest.raises(TargetRefused) as caught:
        await policy.check_url(url)
    return caught.value


async def test_an_allowed_host_with_public_addresses_passes() -> None:
    policy = resolving({"hooks.slack.com": ["3.33.146.110", "2600:1f18:24e6:b900::1"]})
    assert await policy.check_url("https://hooks.slack.com/services/T/B/X") == [
        "3.33.146.110",
        "2600:1f18:24e6:b900::1",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.org/hook",
        "https://hooks.slack.com.evil.org/hook",
        "https://example.com/hook",  # `*.example.com` is its subdomains only
        "https://notexample.com/hook",
    ],
)
async def test_a_host_off_the_allowlist_is_refused_before_any_lookup(url: str) -> None:
    policy = resolving({})
    assert (await refused(policy, url)).code == "host_not_allowed"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.7",
        "172.16.4.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "2001:db8::1",  # documentation
    ],
)
async def test_a_name_that_resolves_to_a_non_public_address_is_refused(address: str) -> None:
    policy = resolving({"hooks.example.com": [address]})
    found = await refused(policy, "https://hooks.example.com/x")
    assert found.code == "address_not_allowed"
    assert address in found.reason


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    policy = resolving({"hooks.example.com": ["3.33.146.110", "10.1.2.3"]})
    assert (await refused(policy, "https://hooks.example.com/x")).code == "address_not_allowed"


async def test_an_allowed_ip_literal_is_still_checked_as_an_address() -> None:
    policy = resolving({"127.0.0.1": ["127.0.0.1"]})
    assert (await refused(policy, "http://127.0.0.1:8090/hook")).code == "address_not_allowed"


async def test_a_network_allowed_by_the_settings_lets_its_addresses_through() -> None:
    policy = TargetPolicy(
        allowed_hosts=("localhost", "receiver.internal"),
        allowed_networks=(*LOOPBACK, *networks(["10.20.0.0/16"])),
        resolve=resolving(
            {"localhost": ["127.0.0.1", "::1"], "receiver.internal": ["10.20.3.4"]}
        ).resolve,
    )
    assert await policy.check_url("http://localhost:8090/hook") == ["127.0.0.1", "::1"]
    assert await policy.check_url("http://receiver.internal/hook") == ["10.20.3.4"]
    outside = TargetPolicy(
        allowed_hosts=("receiver.internal",),
        allowed_networks=networks(["10.20.0.0/16"]),
        resolve=resolving({"receiver.internal": ["10.21.0.1"]}).resolve,
    )
    assert (await refused(outside, "http://receiver.internal/")).code == "address_not_allowed"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://hooks.slack.com/x", "scheme_not_allowed"),
        ("file:///etc/passwd", "scheme_not_allowed"),
        ("https://user:pw@hooks.slack.com/x", "credentials_in_url"),
        ("https://127.0.0.1@hooks.slack.com/x", "credentials_in_url"),
        ("https://hooks.slack.com:99999/x", "scheme_not_allowed"),
        ("https://nowhere.example.com/x", "host_not_resolved"),
    ],
)
async def test_urls_that_cannot_be_a_webhook_are_refused(url: str, code: str) -> None:
    policy = resolving({"hooks.slack.com": ["3.33.146.110"]})
    assert (await refused(policy, url)).code == code


@pytest.mark.parametrize(
    ("settings", "loopback_allowed"),
    [
        ({}, True),  # local use: the chat sink on 127.0.0.1
        ({"cop_env": "staging", "chat_webhook_url": None}, False),
        ({"chat_allowed_networks": []}, False),
        (
            {"cop_env": "staging", "chat_webhook_url": None, "chat_allowed_networks": ["::1/128"]},
            False,
        ),
    ],
)
def test_loopback_is_allowed_only_in_local_use_unless_the_settings_say(
    settings: dict[str, Any], loopback_allowed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_TOKEN_SECRET", "a-secret-for-a-shared-environment-0123456789")
    policy = TargetPolicy.from_settings(NotifierSettings(**settings))
    assert policy.address_allowed("127.0.0.1") is loopback_allowed


def test_a_wrong_network_in_the_settings_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match=re.escape("10.0.0.300/8")):
        NotifierSettings(chat_allowed_networks=["10.0.0.300/8"])


# --- at the moment of connecting --------------------------------------------------------------


class Rebinding:
    """A DNS answer that changes between lookups: public first, then loopback."""

    def __init__(self, *answers: list[str]) -> None:
        self._answers: Iterator[list[str]] = iter(answers)
        self.lookups = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        return next(self._answers)


async def test_the_session_refuses_a_rebinding_answer_at_connect_time() -> None:
    """Registration saw a public address; the connection's own lookup gets 127.0.0.1 and the
    session refuses it, whatever the registration check said."""
    dns = Rebinding(["93.184.215.14"], ["127.0.0.1"])
    policy = TargetPolicy(allowed_hosts=("hooks.example.com",), resolve=dns)
    assert await policy.check_url("http://hooks.example.com/x") == ["93.184.215.14"]
    async with guarded_session(policy) as http:
        with pytest.raises(TargetRefused) as caught:
            await http.post("http://hooks.example.com/x", json={})
    assert caught.value.code == "address_not_allowed"
    assert dns.lookups == 2


async def test_the_session_connects_to_the_address_it_checked_and_posts() -> None:
    """A real receiver on 127.0.0.1: allowed by the network setting, reached by the address the
    session resolved, the Host header still the name."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        policy = TargetPolicy(
            allowed_hosts=("receiver.test",),
            allowed_networks=LOOPBACK,
            resolve=Rebinding(["127.0.0.1"]),
        )
        async with (
            guarded_session(policy) as http,
            http.post(f"http://receiver.test:{port}/hook", json={"a": 1}) as response,
        ):
            assert response.status == 204
    assert b"host: receiver.test:" in received[0].lower()


async def test_the_session_refuses_a_host_off_the_allowlist_without_a_lookup() -> None:
    dns = Rebinding()
    policy = TargetPolicy(allowed_hosts=("hooks.example.com",), resolve=dns)
    async with guarded_session(policy) as http:
        with pytest.raises(TargetRefused) as caught:
            await http.get("http://169.254.169.254/latest/meta-data")
    assert caught.value.code == "host_not_allowed"
    assert dns.lookups == 0


@pytest.mark.parametrize("host", ["10.0.0.5", "[fd00::1]", "169.254.169.254"])
async def test_an_address_in_the_url_is_checked_before_the_request_leaves(host: str) -> None:
    """An address written in the URL never reaches a resolver: the session checks it itself,
    even when the allowlist names it."""
    dns = Rebinding()
    policy = TargetPolicy(allowed_hosts=(host.strip("[]"),), resolve=dns)
    async with guarded_session(policy) as http:
        with pytest.raises(TargetRefused) as caught:
            await http.post(f"http://{host}/hook", json={})
    assert caught.value.code == "address_not_allowed"
    assert dns.lookups == 0
