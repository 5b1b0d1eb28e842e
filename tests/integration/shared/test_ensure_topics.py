"""`ensure_topics` creates what is missing of the contract's topics and leaves the rest."""

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.events.topics import all_topics
from shared.kafka import ensure_topics
from tests.infra import Infrastructure
from tests.integration.polling import eventually
from tests.namespaces import track

pytestmark = pytest.mark.integration


async def test_missing_topics_are_created_with_their_partitions_and_existing_ones_kept(
    infra: Infrastructure,
) -> None:
    prefix = track(f"ens{uuid.uuid4().hex[:8]}.")
    names = sorted(prefix + t for t in all_topics())

    first = await ensure_topics(infra.kafka_bootstrap_servers, partitions=2, topic_prefix=prefix)
    again = await ensure_topics(infra.kafka_bootstrap_servers, partitions=2, topic_prefix=prefix)

    assert sorted(first) == names
    assert again == []
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        # the broker answers a creation before its metadata shows the new partitions
        async def partition_counts() -> set[int] | None:
            counts = {len(t["partitions"]) for t in await admin.describe_topics(names)}
            return counts if 0 not in counts else None

        assert await eventually(partition_counts, what="the created topics' partitions") == {2}
        await admin.delete_topics([prefix + "cop.cicd"])
    finally:
        await admin.close()

    async def recreated() -> list[str] | None:
        try:
            return await ensure_topics(
                infra.kafka_bootstrap_servers, partitions=2, topic_prefix=prefix
            )
        except RuntimeError:  # still marked for deletion a moment after the delete is answered
            return None

    assert await eventually(recreated, what="the deleted topic created again") == [
        prefix + "cop.cicd"
    ]
