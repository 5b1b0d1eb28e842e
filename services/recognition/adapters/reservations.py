"""Kudos a member asked for over HTTP and that the judge may not have decided yet, per period.

The judge's record (`judge.py`) is the authority, but it is written after the kudos went through
Kafka; a member sending several kudos in a row would pass a check against it alone. So each
request also reserves its recipients in a Redis counter, refused when it would pass the
allowance. It is advice, not the decision: if Redis loses it, requests are checked against the
judge's record and the judge still refuses what the allowance does not cover.
"""

from redis.asyncio import Redis

_TTL_S = 40 * 24 * 3600  # a month and some slack


class Reservations:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._prefix = f"{namespace}:kudos-reserved"

    def _key(self, giver_id: str, period: str) -> str:
        return f"{self._prefix}:{period}:{giver_id}"

    async def reserve(self, giver_id: str, period: str, units: int, allowance: int) -> bool:
        """Reserve `units` of the giver's allowance; False (and nothing reserved) if over it."""
        key = self._key(giver_id, period)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, units)
            pipe.expire(key, _TTL_S)
            reserved, _ = await pipe.execute()
        if int(reserved) > allowance:
            await self._redis.decrby(key, units)
            return False
        return True

    async def reserved(self, giver_id: str, period: str) -> int:
        return int(await self._redis.get(self._key(giver_id, period)) or 0)

    async def release(self, giver_id: str, period: str, units: int) -> None:
        await self._redis.decrby(self._key(giver_id, period), units)
