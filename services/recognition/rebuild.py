"""Rebuilding recognition's projection from its topic (run by `copctl replay recognition`).

The projection is one document per kudos in `kudos` and a tally per member in `member_kudos`,
built from `cop.recognition`. The weekly
allowances in Redis are not a projection and are kept: a replay gives nobody their kudos back.
"""

from typing import Final

from services.recognition.settings import RecognitionSettings
from shared.events.topics import Topic
from shared.mongo import drop_collections

TOPICS: Final = (Topic.RECOGNITION,)
"""What the projection's consumer group reads, from the beginning, to rebuild it."""
COLLECTIONS: Final = ("kudos", "member_kudos")
"""What the projection is made of, and all that a rebuild may drop."""


async def prepare_rebuild(settings: RecognitionSettings) -> list[str]:
    """Drop the projection's collections, with the service stopped; it re-applies the topic
    when it starts with its consumer group rewound. Returns the collections dropped."""
    return await drop_collections(
        settings.mongodb_uri,
        settings.mongodb_database,
        COLLECTIONS,
        app_name="cop-recognition-rebuild",
    )
