"""Where chat webhooks may point: allowed hosts that resolve to public addresses only (no SSRF).

A target passes when its host is on the allowlist (`hooks.slack.com`, or `*.example.com` for
the subdomains) AND every address the host resolves to is public. Private, loopback,
link-local, shared, reserved, multicast and unspecified addresses (also when an IPv6 address
carries one) are refused unless a network in `allowed_networks` holds them (the local chat sink
on 127.0.0.1, an in-cluster receiver).

Checking a name once and connecting later would let a rebinding DNS server answer a public
address to the check and a private one to the connection. `guarded_transport` closes that gap:
its connections resolve the host themselves, connect only to addresses that pass, and check the
peer address the socket is really connected to.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpcore
import httpx

from services.notifier.settings import NotifierSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

LOOPBACK: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


class TargetRefused(ValueError):
    """A webhook target that must never be posted to: permanent, not worth a retry."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
        or address.is_private
    )


@dataclass(frozen=True)
class TargetPolicy:
    allowed_hosts: tuple[str, ...]
    allowed_networks: tuple[IPNetwork, ...] = ()
    resolve: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def from_settings(cls, settings: NotifierSettings) -> "TargetPolicy":
        return cls(
            allowed_hosts=tuple(settings.chat_allowed_hosts),
            allowed_networks=networks(settings.effective_chat_allowed_networks),
        )

    def host_allowed(self, host: str) -> bool:
        """Exact host names, or `*.example.com` for its subdomains (not example.com itself)."""
        host = host.lower().rstrip(".")
        for pattern in self.allowed_hosts:
            pattern = pattern.lower().rstrip(".")
            if pattern.startswith("*.") and host.endswith(pattern[1:]):
                return True
            if host == pattern:
                return True
        return False

    def url_allowed(self, url: str) -> bool:
        """An http(s) URL whose host is on the allowlist (its addresses are checked when a
        connection is made)."""
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and self.host_allowed(parts.hostname or "")

    def address_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # a zone id (fe80::1%eth0) aside
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.allowed_networks):
            return True
        return is_public(ip)

    async def addresses(self, host: str, port: int) -> list[str]:
        """The host's addresses, when the host is allowed and every one of them is."""
        if not self.host_allowed(host):
            raise TargetRefused("host_not_allowed", f"host {host} is not on the allowlist")
        try:
            found = await self.resolve(host, port)
        except OSError as e:
            raise TargetRefused("host_not_resolved", f"host {host} does not resolve") from e
        if not found:
            raise TargetRefused("host_not_resolved", f"host {host} does not resolve")
        refused = [a for a in found if not self.address_allowed(a)]
        if refused:
            raise TargetRefused(
                "address_not_allowed",
                f"host {host} resolves to {refused[0]}, which is not a public address",
            )
        return found

    async def check_url(self, url: str) -> list[str]:
        """Refuse a URL that is not http(s), carries credentials or points where it must not."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TargetRefused("scheme_not_allowed", "only http and https URLs with a host")
        if not self.host_allowed(parts.hostname):
            raise TargetRefused(
                "host_not_allowed", f"host {parts.hostname} is not on the allowlist"
            )
        if parts.username is not None or parts.password is not None:
            raise TargetRefused("credentials_in_url", "a webhook URL carries no user or password")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as e:
            raise TargetRefused("scheme_not_allowed", "the URL's port is not valid") from e
        return await self.addresses(parts.hostname, port)


def networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy allows, resolving the name once, itself."""

    def __init__(
        self, policy: TargetPolicy, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._policy = policy
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        options = list(socket_options or ())
        failures: list[Exception] = []
        for address in await self._policy.addresses(host, port):
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=options,
                )
            except httpcore.ConnectError as e:
                failures.append(e)
                continue
            peer = stream.get_extra_info("server_addr")
            if not peer or not self._policy.address_allowed(str(peer[0])):
                await stream.aclose()
                raise TargetRefused(
                    "address_not_allowed", f"connected to {peer!r}, which is not allowed"
                )
            return stream
        raise httpcore.ConnectError(f"cannot connect to {host}:{port}: {failures}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetRefused("scheme_not_allowed", "no webhook is posted to a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(
    policy: TargetPolicy, *, verify: bool | str = True, limits: httpx.Limits | None = None
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through `GuardedNetworkBackend`.

    Use it with `trust_env=False` (a proxy from the environment would connect instead) and
    without following redirects. A refused target raises `TargetRefused` from the request."""
    limits = limits or httpx.Limits()
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits, trust_env=False)
    # httpx takes no network backend of its own: swap in a pool built like its own, with ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedNetworkBackend(policy),
    )
    return transport
