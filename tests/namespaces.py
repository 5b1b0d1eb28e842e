"""Topic prefixes the tests create, so their topics can be deleted: a module's when the module is
done (a long-lived local broker would otherwise hold every test's partitions open at once, one
file each, until it runs out of them), and anything left at the end of the session."""

import asyncio

from aiokafka.admin import AIOKafkaAdminClient

from shared.events.topics import all_topics

_prefixes: set[str] = set()  # every prefix of the session
_unswept: set[str] = set()  # those whose topics were not deleted yet
broker: list[str] = []  # the session's bootstrap servers, once the infrastructure is up


def track(prefix: str) -> str:
    _prefixes.add(prefix)
    _unswept.add(prefix)
    return prefix


async def _delete(bootstrap_servers: str, named: list[str] | None) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        if named is None:
            named = [t for t in await admin.list_topics() if t.startswith(tuple(_prefixes))]
        if named:
            await admin.delete_topics(named)  # a name that does not exist is answered, not raised
        return len(named)
    finally:
        await admin.close()


def sweep() -> int:
    """Delete the contract's topics of every namespace tracked since the last sweep."""
    if not _unswept or not broker:
        return 0
    named = sorted(p + t for p in _unswept for t in all_topics())
    _unswept.clear()
    return asyncio.run(_delete(broker[0], named))


def delete_tracked_topics(bootstrap_servers: str) -> int:
    """Every topic under a prefix of the session, the contract's or not."""
    if not _prefixes:
        return 0
    return asyncio.run(_delete(bootstrap_servers, None))
