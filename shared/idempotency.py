"""Commands that create something, safe to retry: the `Idempotency-Key` request header.

A client that cannot tell whether its command arrived (a time-out, a dropped connection, a
service restarting) sends it again with the same `Idempotency-Key` and gets the first answer
again, status and body, marked `Idempotent-Replayed: true`, instead of a second kudos, session
or artifact: eShop's identified commands, answered as duplicates.

- The first answer is kept in Redis for `IDEMPOTENCY_TTL_S` (24 h) under a key scoped by the
  service, the route, the authenticated caller and the client's key, so two callers' keys never
  meet and one key may be used on several routes.
- The key is reserved atomically before the command runs (a Lua script: read, and set only if
  absent). A repeat that arrives while the first is still running answers 409
  (`idempotency_in_progress`, `Retry-After`) and runs nothing.
- The same key with another request (another path or another body) answers 422 naming the
  header (`idempotency_key_reused`).
- Only an answer the command gave is kept. A refusal or failure (a raised exception: 4xx, 5xx)
  releases the key, so its repeat is decided anew; a process that stops in the middle of a
  command leaves the reservation until its lease (60 s) runs out.

A route takes the dependency `idempotency(store, auth)` and runs its command through it:
`return await once(Accepted, lambda: command(...))`. Without the header it just runs.
"""

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from redis.asyncio import Redis

from shared.auth import Caller
from shared.http import Problem

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
FIELD = "header.idempotency-key"  # how a 422 names the header, as request validation does
M = TypeVar("M", bound=BaseModel)

HEADER_DESCRIPTION = (
    "Makes the command safe to retry: 1-255 visible ASCII characters (a UUID), optionally "
    'quoted (`"…"`). A repeat with the same key answers the first answer again (status and '
    "body, `Idempotent-Replayed: true`) for `IDEMPOTENCY_TTL_S` (24 h) and creates nothing; "
    "the same key with another request answers 422; a repeat while the first is still "
    "running answers 409 with `Retry-After`. A refused or failed request keeps nothing: its "
    "repeat is decided anew."
)

# Reserve: the current record if there is one, else store the pending one and answer nil.
_RESERVE = """
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""
# Complete or release: only the holder of the reservation (its token) changes it.
_COMPLETE = """
local current = redis.call('GET', KEYS[1])
if not current or cjson.decode(current)['token'] ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


@dataclass(frozen=True)
class Reserved:
    token: str


@dataclass(frozen=True)
class Pending:
    fingerprint: str


@dataclass(frozen=True)
class Answered:
    fingerprint: str
    status: int
    body: Any


class IdempotencyStore:
    """First answers by (service, route, caller, key), in Redis."""

    def __init__(self, redis: Redis, namespace: str, ttl_s: int, lease_s: int = 60) -> None:
        self._redis = redis
        self._prefix = f"{namespace}:idempotency"
        self._ttl_ms = ttl_s * 1000
        self._lease_ms = lease_s * 1000
        self._reserve = redis.register_script(_RESERVE)
        self._complete = redis.register_script(_COMPLETE)

    def key(self, route: str, caller: str, client_key: str) -> str:
        scope = json.dumps([route, caller, client_key], separators=(",", ":"))
        return f"{self._prefix}:{hashlib.sha256(scope.encode()).hexdigest()}"

    async def reserve(self, key: str, fingerprint: str) -> Reserved | Pending | Answered:
        token = uuid.uuid4().hex
        record = {"token": token, "fingerprint": fingerprint, "state": "pending"}
        current = await self._reserve(keys=[key], args=[json.dumps(record), self._lease_ms])
        if current is None:
            return Reserved(token)
        found = json.loads(current)
        if found["state"] == "pending":
            return Pending(found["fingerprint"])
        return Answered(found["fingerprint"], int(found["status"]), found["body"])

    async def complete(
        self, key: str, token: str, fingerprint: str, status: int, body: Any
    ) -> None:
        record = {
            "token": token,
            "fingerprint": fingerprint,
            "state": "answered",
            "status": status,
            "body": body,
        }
        await self._complete(keys=[key], args=[token, json.dumps(record), self._ttl_ms])

    async def release(self, key: str, token: str) -> None:
        await self._complete(keys=[key], args=[token, "", 0])


def _client_key(value: str) -> str:
    """The key as sent; a structured-field string (`"…"`) is the same key unquoted."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not value or len(value) > 255 or not all("!" <= c <= "~" for c in value):
        raise Problem(
            422,
            "Request is not valid",
            "one or more fields are wrong; see errors",
            extra={
                "errors": [{"field": FIELD, "message": "1-255 visible ASCII characters"}],
            },
        )
    return value


async def _fingerprint(request: Request) -> str:
    """The request a key stands for: its path and its body (as JSON, whatever the key order)."""
    raw = await request.body()
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw.hex()
    canonical = json.dumps([request.url.path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Once:
    """Runs a route's command at most once per idempotency key (or always, without one)."""

    store: IdempotencyStore
    request: Request
    response: Response
    caller: Caller
    client_key: str | None

    async def __call__(self, answer: type[M], command: Callable[[], Awaitable[M]]) -> M:
        if self.client_key is None:
            return await command()
        route = self.request.scope["route"]
        key = self.store.key(
            f"{self.request.method} {route.path}", self.caller.member_id, self.client_key
        )
        fingerprint = await _fingerprint(self.request)
        found = await self.store.reserve(key, fingerprint)
        if not isinstance(found, Reserved):
            return self._repeat(answer, found, fingerprint)
        try:
            result = await command()
        except Exception:
            await self.store.release(key, found.token)
            raise
        status = self.response.status_code or getattr(route, "status_code", None) or 200
        body = result.model_dump(mode="json", by_alias=True)
        await self.store.complete(key, found.token, fingerprint, status, body)
        return result

    def _repeat(self, answer: type[M], found: Pending | Answered, fingerprint: str) -> M:
        if found.fingerprint != fingerprint:
            raise Problem(
                422,
                "Idempotency key reused",
                f"this {HEADER} was used for another request (another path or body); "
                "use a new key for a new request",
                type_="urn:cop:problem:idempotency:key-reused",
                extra={
                    "code": "idempotency_key_reused",
                    "errors": [{"field": FIELD, "message": "used for another request"}],
                },
            )
        if isinstance(found, Pending):
            raise Problem(
                409,
                "Request in progress",
                f"a request with this {HEADER} is still running; repeat it to get its answer",
                type_="urn:cop:problem:idempotency:in-progress",
                extra={"code": "idempotency_in_progress"},
                headers={"Retry-After": "1"},
            )
        self.response.status_code = found.status
        self.response.headers[REPLAYED_HEADER] = "true"
        return answer.model_validate(found.body)


def idempotency(
    store: IdempotencyStore, auth: Callable[..., Awaitable[Caller]]
) -> Callable[..., Awaitable[Once]]:
    """The dependency a command route takes; it documents the header in the route's OpenAPI."""

    async def once(
        request: Request,
        response: Response,
        caller: Annotated[Caller, Depends(auth)],
        key: Annotated[
            str | None, Header(alias=HEADER, description=HEADER_DESCRIPTION, max_length=257)
        ] = None,
    ) -> Once:
        client_key = None if key is None else _client_key(key)
        return Once(store, request, response, caller, client_key)

    return once
