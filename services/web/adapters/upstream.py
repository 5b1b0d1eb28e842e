"""The other services' HTTP APIs, as the pages read and act on them: one httpx client per
service with a short time-out. A service that is down, slow or failing becomes `Down` (the page
says so where it needed it); a refusal becomes `Refused` with the service's problem+json."""

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

log = structlog.get_logger("cop.web.upstream")


@dataclass(frozen=True)
class Ok:
    data: Any
    status: int = 200


@dataclass(frozen=True)
class Down:
    """The service did not answer in time, or answered with a failure of its own (5xx)."""

    service: str

    @property
    def message(self) -> str:
        return f"{self.service} is not answering; try again in a minute"


@dataclass(frozen=True)
class Refused:
    """The service refused the request (4xx) and said why (problem+json)."""

    status: int
    problem: Mapping[str, Any] = field(default_factory=dict)

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or "refused")


Reply = Ok | Down | Refused


class Upstreams:
    """Clients for events, knowledge, recognition and notifier, each at its configured URL."""

    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 1.0))
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
        self._clients = {
            name: httpx.AsyncClient(
                base_url=url.rstrip("/"), timeout=timeout, limits=limits, transport=transport
            )
            for name, url in urls.items()
        }
        self._timeout_s = timeout_s

    async def close(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._clients.values()))

    async def get(
        self,
        service: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        token: str | None = None,
    ) -> Reply:
        return await self._call(service, "GET", path, params=params, token=token)

    async def get_text(
        self, service: str, path: str, *, params: Mapping[str, str | int] | None = None
    ) -> Reply:
        """A plain-text answer (a diff): `Ok` with the text."""
        return await self._call(service, "GET", path, params=params, token=None, text=True)

    async def post(
        self,
        service: str,
        path: str,
        body: Mapping[str, Any],
        *,
        token: str,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        return await self._call(
            service, "POST", path, params=params, token=token, body=body, headers=headers
        )

    async def put(
        self,
        service: str,
        path: str,
        body: Mapping[str, Any],
        *,
        token: str,
        params: Mapping[str, str | int] | None = None,
    ) -> Reply:
        return await self._call(service, "PUT", path, params=params, token=token, body=body)

    async def delete(
        self,
        service: str,
        path: str,
        *,
        token: str,
        params: Mapping[str, str | int] | None = None,
    ) -> Reply:
        return await self._call(service, "DELETE", path, params=params, token=token)

    async def _call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None,
        token: str | None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        text: bool = False,
    ) -> Reply:
        sent = {"accept": "text/plain" if text else "application/json", **(headers or {})}
        if token:
            sent["authorization"] = f"Bearer {token}"
        try:
            # One deadline for the whole exchange: httpx's time-out is per read, and a service
            # that trickles its answer must not hold a page longer than that.
            answer = await asyncio.wait_for(
                self._clients[service].request(
                    method, path, params=params, json=body, headers=sent
                ),
                self._timeout_s,
            )
        except (httpx.HTTPError, TimeoutError) as e:
            log.warning("upstream not answering", service=service, path=path, error=repr(e))
            return Down(service)
        if answer.status_code >= 500:
            log.warning("upstream failed", service=service, path=path, status=answer.status_code)
            return Down(service)
        if text and answer.status_code < 400:
            return Ok(answer.text, answer.status_code)
        try:
            data = answer.json() if answer.content else None
        except json.JSONDecodeError:
            return Down(service)
        if answer.status_code >= 400:
            return Refused(answer.status_code, data if isinstance(data, dict) else {})
        return Ok(data, answer.status_code)
