"""Rebuilding the knowledge projection and its search index from the topics
(`copctl replay knowledge`): communities (leaders, teams), sessions (minutes stubs), knowledge."""

from typing import Final

from services.knowledge.adapters.projection import PROJECTION
from services.knowledge.settings import KnowledgeSettings
from shared.events.topics import Topic
from shared.mongo import drop_collections

TOPICS: Final = (Topic.COMMUNITIES, Topic.SESSIONS, Topic.KNOWLEDGE)
"""What the projection's consumer group reads, from the beginning, to rebuild it."""
COLLECTIONS: Final = PROJECTION
"""What the projection (the search index included) is made of, and all a rebuild may drop."""


async def prepare_rebuild(settings: KnowledgeSettings) -> list[str]:
    """Drop the projection, with the service stopped; it re-applies the topics when it starts
    with its consumer group rewound. Returns the collections dropped."""
    return await drop_collections(settings, COLLECTIONS, app_name="cop-knowledge-rebuild")
