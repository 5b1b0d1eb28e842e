"""Where chat webhooks may point: allowed hosts that resolve to public addresses only (no SSRF).

A target passes when its host is on the allowlist (`hooks.slack.com`, or `*.example.com` for
the subdomains) AND every address the host resolves to is public. Private, loopback,
link-local, shared, reserved, multicast and unspecified addresses (also when an IPv6 address
carries one) are refused unless a network in `allowed_networks` holds them (the local chat sink
on 127.0.0.1, an in-cluster receiver).

Checking a name once and connecting later would let a rebinding DNS server answer a public
address to the check and a private one to the connection. `guarded_session` closes that gap:
its connector resolves the host itself for every new connection and connects only to the
addresses that pass, and a request whose host is an address is checked before it leaves.
"""

import asyncio
import ipaddress
import socket
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

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


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver for webhook hosts: only the addresses the policy allows, so the
    connector connects to nothing else (it connects to exactly the addresses resolved here)."""

    def __init__(self, policy: TargetPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in await self._policy.addresses(host, port)
        ]

    async def close(self) -> None:
        return None


def guarded_session(
    policy: TargetPolicy,
    *,
    timeout_s: float = 10.0,
    connections: int = 100,
    ssl: ssl_module.SSLContext | bool = True,
) -> aiohttp.ClientSession:
    """An aiohttp session whose requests and connections go only where `policy` allows.

    Every request's host must be on the allowlist and, when it is an address, allowed (an
    address in the URL never reaches a resolver); a name is resolved by `GuardedResolver` for
    each new connection (no DNS cache: a name that resolves elsewhere the second time is
    checked again). Proxies from the environment are ignored; callers must not follow
    redirects."""

    async def allowed_target(
        request: aiohttp.ClientRequest, send: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        host = request.url.host or ""
        if not policy.host_allowed(host):
            raise TargetRefused("host_not_allowed", f"host {host} is not on the allowlist")
        if _is_address(host) and not policy.address_allowed(host):
            raise TargetRefused("address_not_allowed", f"{host} is not a public address")
        return await send(request)

    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(policy), use_dns_cache=False, limit=connections, ssl=ssl
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        trust_env=False,
        middlewares=(allowed_target,),
    )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True
