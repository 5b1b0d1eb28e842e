"""Rebuilding the knowledge projection from the topics (`copctl replay knowledge`):
communities (leaders, teams), sessions (minutes stubs), knowledge.

The search index is not part of it: each replica keeps its own, on its own disk, from the
knowledge topic, and builds it again by itself when it is missing or of another format
(`adapters/search_index.py`); delete a replica's index directory to make it do so."""

from typing import Final

from services.knowledge.adapters.projection import PROJECTION
from services.knowledge.settings import KnowledgeSettings
from shared.events.topics import Topic
from shared.mongo import drop_collections

TOPICS: Final = (Topic.COMMUNITIES, Topic.SESSIONS, Topic.KNOWLEDGE)
"""What the projection's consumer group reads, from the beginning, to rebuild it."""
COLLECTIONS: Final = PROJECTION
"""What the projection is made of, and all a rebuild may drop."""
FORMER: Final = ("search_terms", "search_catalog")
"""The search index's collections before it moved to each replica's disk: a rebuild drops them."""


async def prepare_rebuild(settings: KnowledgeSettings) -> list[str]:
    """Drop the projection, with the service stopped; it re-applies the topics when it starts
    with its consumer group rewound. Returns the collections dropped."""
    return await drop_collections(
        settings, (*COLLECTIONS, *FORMER), app_name="cop-knowledge-rebuild"
    )
