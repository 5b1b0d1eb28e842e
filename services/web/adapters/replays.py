"""Signed chat requests already accepted: a signature seen once inside its platform's window is
a replay. Redis keeps each for longer than the window, so a repeat is refused until the
platform's own timestamp check refuses it anyway."""

import hashlib

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.web.adapters.chat_platforms import WINDOW_S


class ReplayCheckUnavailable(Exception):
    """Redis did not answer: the request cannot be told from a replay, so it is not acted on."""


class SeenRequests:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._prefix = f"{namespace}:chat-seen"

    async def first_time(self, platform: str, proof: str) -> bool:
        """True the first time this platform's request signature is presented, False after."""
        digest = hashlib.sha256(proof.encode()).hexdigest()
        try:
            stored = await self._redis.set(
                f"{self._prefix}:{platform}:{digest}", 1, nx=True, ex=2 * WINDOW_S + 60
            )
        except (RedisError, OSError) as e:
            raise ReplayCheckUnavailable(str(e)) from e
        return bool(stored)
