"""Rebuilding the impact projection from the topics (`copctl replay impact`): the CI/CD facts and
owners (`cop.cicd`), profiles (`cop.communities`), held sessions (`cop.sessions`), published and
reused artifacts (`cop.knowledge`), judged kudos (`cop.recognition`). The projection is all the
service keeps: owners are events too, so nothing is lost."""

from typing import Final

from services.impact.adapters.projection import PROJECTION
from services.impact.settings import ImpactSettings
from shared.events.topics import Topic
from shared.mongo import drop_collections

TOPICS: Final = (Topic.CICD, Topic.COMMUNITIES, Topic.SESSIONS, Topic.KNOWLEDGE, Topic.RECOGNITION)
"""What the projection's consumer group reads, from the beginning, to rebuild it."""
COLLECTIONS: Final = PROJECTION
"""What the projection is made of, and all a rebuild may drop."""


async def prepare_rebuild(settings: ImpactSettings) -> list[str]:
    """Drop the projection, with the service stopped; it re-applies the topics when it starts
    with its consumer group rewound. Returns the collections dropped."""
    return await drop_collections(settings, COLLECTIONS, app_name="cop-impact-rebuild")
