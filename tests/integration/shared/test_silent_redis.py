"""A Redis that accepts connections and never answers is an outage, not a wait without end."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.consumer import TRANSIENT_ERRORS
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP server on a free port that reads whatever it is sent and never writes back."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(4096):
            pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_a_redis_that_never_answers_times_out_as_an_outage(silent_server: int) -> None:
    settings = ServiceSettings(
        redis_url=f"redis://127.0.0.1:{silent_server}/0", redis_socket_timeout_s=0.5
    )
    redis = Redis.from_url(settings.redis_url, **settings.redis_options())
    began = time.monotonic()
    try:
        with pytest.raises(RedisTimeoutError) as raised:
            # the test's own bound: without the setting, the ping would wait for ever
            await asyncio.wait_for(redis.ping(), timeout=10)
    finally:
        await redis.aclose()
    assert time.monotonic() - began < 5
    assert isinstance(raised.value, TRANSIENT_ERRORS)  # consumers rewind and retry, never DLQ
