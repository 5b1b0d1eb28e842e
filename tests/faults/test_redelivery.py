"""Everything delivered again: once a stream has settled, every service is stopped, every consumer
group of the platform (projections, the inbound gateway, recognition's judge) is put back to the
beginning of every topic it consumes, and the services start again. They apply the whole
history a second time: no badge, e-mail or chat post happens twice, no projection changes, the
gateway routes no inbound event again (each is a duplicate by its source and id) and recognition
awards no badge again; only its judge publishes its recorded judgements again, under the same
ids, which every consumer absorbs."""

import asyncio
import json

import pytest

from shared.events.topics import Topic
from tests.faults.conftest import PlatformFactory
from tests.faults.harness import (
    SERVICE_NAMES,
    Ledger,
    Platform,
    Sender,
    account,
    dead_lettered,
    differences,
    domain_ids,
    projections,
    read_topic,
    rewind_every_group,
    settled,
    workload,
)

pytestmark = pytest.mark.faults

EVENTS = 1000


async def test_every_consumer_group_rewound_to_the_beginning_changes_nothing(
    platforms: PlatformFactory,
) -> None:
    platform = await platforms("redeliver")
    ledger = Ledger()
    await Sender(platform, ledger).send(workload(EVENTS, seed=51, namespace=platform.namespace))
    await settled(platform)
    before = await projections(platform, SERVICE_NAMES)
    published = await domain_ids(platform)

    await asyncio.gather(*(asyncio.to_thread(platform.stop_service, s) for s in SERVICE_NAMES))
    rewound = await rewind_every_group(platform)
    groups = {platform.group(s) for s in SERVICE_NAMES}
    groups |= {platform.group("events-inbound"), platform.group("recognition-judge")}
    assert groups <= set(rewound), rewound
    assert all(rewound.values()), rewound
    await asyncio.gather(*(asyncio.to_thread(platform.restart, s) for s in SERVICE_NAMES))
    await settled(platform)

    again = await domain_ids(platform)
    republished = {i for i in published if again[i] > published[i]}
    count = await account(
        platform,
        ledger,
        "every consumer group rewound to offset 0",
        f"{sum(rewound.values())} partitions rewound in {len(rewound)} groups; "
        f"{len(republished)} judgements published again",
    )
    assert count.missing == 0
    assert count.duplicates == 0
    # Only the judge publishes again: it publishes its recorded judgement of a kudos on every
    # delivery, under the same id (a crash between recording and publishing loses nothing).
    assert republished <= await judgements(platform)
    after = await projections(platform, SERVICE_NAMES)
    for service in SERVICE_NAMES:
        assert differences(before[service], after[service]) == [], service
    assert await dead_lettered(platform) == dict.fromkeys(SERVICE_NAMES, 0)


async def judgements(platform: Platform) -> set[str]:
    records = await read_topic(
        platform.infra.kafka_bootstrap_servers, platform.topic(Topic.RECOGNITION)
    )
    return {
        body["id"]
        for body in (json.loads(r.value) for r in records)
        if body["type"] == "cop.kudos.judged.v1"
    }
