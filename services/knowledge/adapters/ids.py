"""Artifact ids being published: reserved in Redis so two requests cannot publish one id before
the projection shows the first. A lost reservation only reopens that short window."""

from redis.asyncio import Redis

_TTL_S = 24 * 3600  # far longer than any projection lag; the projection is the record after


class ArtifactIds:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._prefix = f"{namespace}:artifact-id"

    async def reserve(self, artifact_id: str) -> bool:
        return bool(await self._redis.set(f"{self._prefix}:{artifact_id}", "1", nx=True, ex=_TTL_S))

    async def reserved(self, artifact_id: str) -> bool:
        return bool(await self._redis.exists(f"{self._prefix}:{artifact_id}"))

    async def release(self, artifact_id: str) -> None:
        await self._redis.delete(f"{self._prefix}:{artifact_id}")
