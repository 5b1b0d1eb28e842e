"""Rebuilding the notifier's projection from its topics (run by `copctl replay notifier`).

The projection is the members' contact profiles (`profiles`), built from `cop.communities`; the
notifier also reads `cop.recognition`, so its group is rewound on both. The delivery log
(`deliveries`, and `waiting_for_address`, its index of parked deliveries) is not a projection
and is kept: it is what stops a replayed kudos from being sent again.
"""

from typing import Final

from services.notifier.settings import NotifierSettings
from shared.events.topics import Topic
from shared.mongo import drop_collections

TOPICS: Final = (Topic.COMMUNITIES, Topic.RECOGNITION)
"""What the service's consumer group reads, from the beginning, to rebuild the projection."""
COLLECTIONS: Final = ("profiles",)
"""What the projection is made of, and all that a rebuild may drop."""


async def prepare_rebuild(settings: NotifierSettings) -> list[str]:
    """Drop the projection's collections, with the service stopped; it re-applies the topics
    when it starts with its consumer group rewound. Returns the collections dropped."""
    return await drop_collections(
        settings.mongodb_uri,
        settings.mongodb_database,
        COLLECTIONS,
        app_name="cop-notifier-rebuild",
    )
