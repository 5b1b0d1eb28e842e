"""Topic prefixes the tests create, so the session can delete their topics at the end."""

import asyncio

from aiokafka.admin import AIOKafkaAdminClient

_prefixes: set[str] = set()


def track(prefix: str) -> str:
    _prefixes.add(prefix)
    return prefix


async def _delete(bootstrap_servers: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(tuple(_prefixes))]
        if doomed:
            await admin.delete_topics(doomed)
        return len(doomed)
    finally:
        await admin.close()


def delete_tracked_topics(bootstrap_servers: str) -> int:
    """Keep a long-lived local broker small: each test works in topics of its own."""
    if not _prefixes:
        return 0
    return asyncio.run(_delete(bootstrap_servers))
