"""Leaderboards in Redis sorted sets: a cache of the rollups, rebuilt from them when missing.

One sorted set per community and period (`all`, `2026-11`, `2026-Q4`, `2026-W47`). Scores are
written with `ZADD GT`: a member's score in a period only grows, so a writer that computed from
an older rollup can never lower it, and writers may land in any order. A period's set is built
from MongoDB the first time it is read after Redis lost it (a marker key says it was built).
"""

from collections.abc import Iterable, Mapping
from typing import cast

from redis.asyncio import Redis


class Leaderboards:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._prefix = f"{namespace}:leaderboard"

    def _key(self, community_id: str, period: str) -> str:
        return f"{self._prefix}:{community_id}:{period}"

    def _built(self, community_id: str, period: str) -> str:
        return f"{self._prefix}:built:{community_id}:{period}"

    async def raise_scores(
        self, community_id: str, scores: Mapping[str, Mapping[str, int]]
    ) -> None:
        """`scores`: period → member → score; each member's score rises to it if lower."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for period, by_member in scores.items():
                if by_member:
                    pipe.zadd(self._key(community_id, period), dict(by_member), gt=True)
            await pipe.execute()

    async def is_built(self, community_id: str, period: str) -> bool:
        return bool(await self._redis.exists(self._built(community_id, period)))

    async def mark_built(self, community_id: str, period: str) -> None:
        await self._redis.set(self._built(community_id, period), "1")

    async def top(self, community_id: str, period: str, limit: int) -> list[tuple[str, int]]:
        """The best `limit` members, by score then member id; ties at the cut are all read."""
        key = self._key(community_id, period)
        head = await self._redis.zrevrange(key, limit - 1, limit - 1, withscores=True)
        if not head:
            rows = await self._redis.zrevrange(key, 0, -1, withscores=True)
        else:
            rows = await self._redis.zrevrangebyscore(key, "+inf", head[0][1], withscores=True)
        pairs = [(str(m), int(score)) for m, score in cast(list[tuple[str, float]], rows)]
        ranked = sorted(pairs, key=lambda r: (-r[1], r[0]))
        return ranked[:limit]

    async def forget(self) -> int:
        """Drop every leaderboard of this namespace (before a rebuild); returns keys dropped."""
        dropped = 0
        async for key in self._redis.scan_iter(match=f"{self._prefix}:*", count=500):
            dropped += await self._redis.delete(key)
        return dropped


def scores_by_period(
    standings: Iterable[tuple[str, dict[str, int]]],
) -> dict[str, dict[str, int]]:
    """(member, period → score) pairs regrouped as period → member → score."""
    grouped: dict[str, dict[str, int]] = {}
    for member, by_period in standings:
        for period, score in by_period.items():
            grouped.setdefault(period, {})[member] = score
    return grouped
