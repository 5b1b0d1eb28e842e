"""One backlog decision at a time per community, across every replica of the service.

A command decides from the projection, which shows its event only once the service has consumed
it. Two votes decided at once (or one right after the other, before the first shows) would both
see the budget as it was and both pass. So the backlog's commands of one community take turns:
a turn is a Redis lease (`SET … NX PX`, released only by its holder), and it hands over the id
of the last event a turn published, which the next turn waits to see in the projection before
it decides. Every backlog decision is thus made on a projection that shows all the ones before
it: the same decisions a replay of the topic would make, whoever computes them.

If a process stops inside its turn, the lease runs out (`lease_ms`) and the next turn still
waits for the last event it knows of. A turn that cannot start within `wait_s` (others hold the
community, or the projection is behind) answers 503: retry later.
"""

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.asyncio import Redis

from shared.refusals import Refused

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_LAST_TTL_S = 24 * 3600  # long after any projection has shown the event


class BacklogBusy(Refused):
    """Others hold the community's backlog, or the projection is behind: retry later."""

    status = 503
    title = "Busy, retry later"


@dataclass
class Turn:
    """A community's turn: the event the previous turn published, and this turn's."""

    previous_event_id: str | None
    published_event_id: str | None = None

    def published(self, event_id: str) -> None:
        self.published_event_id = event_id


class BacklogTurns:
    def __init__(
        self, redis: Redis, namespace: str, *, lease_ms: int = 15_000, wait_s: float = 10.0
    ) -> None:
        self._redis = redis
        self._prefix = f"{namespace}:backlog-turn"
        self._lease_ms = lease_ms
        self._release = redis.register_script(_RELEASE)
        self.wait_s = wait_s

    @contextlib.asynccontextmanager
    async def turn(self, community_id: str) -> AsyncIterator[Turn]:
        lease, last = f"{self._prefix}:{community_id}", f"{self._prefix}:{community_id}:last"
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_s
        while not await self._redis.set(lease, token, nx=True, px=self._lease_ms):
            if time.monotonic() > deadline:
                raise BacklogBusy(
                    "backlog_busy", f"the backlog of {community_id} is busy; retry in a moment"
                )
            await asyncio.sleep(random.uniform(0.005, 0.025))
        previous = await self._redis.get(last)
        turn = Turn(previous.decode() if isinstance(previous, bytes) else previous)
        try:
            yield turn
        finally:
            if turn.published_event_id is not None:
                await self._redis.set(last, turn.published_event_id, ex=_LAST_TTL_S)
            await self._release(keys=[lease], args=[token])
