"""Where the delivery rate limits count (`limits` in Redis): the service's Redis, reached with the
same URL, credentials and TLS as its own client (`ServiceSettings.redis_options`)."""

from limits.aio.storage import RedisStorage

from shared.settings import ServiceSettings


def rate_limit_storage(settings: ServiceSettings) -> RedisStorage:
    # `limits` picks its asyncio client by the scheme: `async+redis://`, `async+rediss://`.
    url = settings.redis_url
    if url.startswith(("redis://", "rediss://")):
        url = f"async+{url}"
    return RedisStorage(url, implementation="redispy", **settings.redis_options())
