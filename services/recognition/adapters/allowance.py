"""Per-member kudos allowance counters in Redis, one key per member and ISO week."""

from redis.asyncio import Redis

_KEY_TTL_S = 8 * 24 * 3600  # a week plus a day of slack for time zones


class AllowanceCounter:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    @staticmethod
    def _key(member_id: str, period: str) -> str:
        return f"recognition:allowance:{period}:{member_id}"

    async def take(self, member_id: str, period: str) -> int:
        """Count one more kudos given in the period; returns the new count."""
        key = self._key(member_id, period)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, _KEY_TTL_S)
            count, _ = await pipe.execute()
        return int(count)

    async def give_back(self, member_id: str, period: str) -> None:
        await self._redis.decr(self._key(member_id, period))

    async def used(self, member_id: str, period: str) -> int:
        return int(await self._redis.get(self._key(member_id, period)) or 0)
