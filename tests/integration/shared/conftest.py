"""Fixtures of the shared-consumer tests."""

import pytest

from shared.kafka import ensure_topics
from tests.infra import Infrastructure
from tests.namespaces import track


@pytest.fixture
async def namespace(infra: Infrastructure, unique: str) -> str:
    prefix = track(f"cons{unique}.")
    await ensure_topics(infra.kafka_bootstrap_servers, partitions=1, topic_prefix=prefix)
    return prefix
