"""Rebuilding the events projection from its topics (run by `copctl replay events`).

The projection is what consuming `cop.communities` and `cop.sessions` builds: the collections
below, `applied_events` included. The registered sources and the inbound ledger are not a
projection (no topic holds them) and are never dropped: API keys stay valid, and a re-sent
event is still recognised as a duplicate.
"""

from typing import Final

from services.events.adapters.projection import APPLIED_EVENTS, PROJECTION_COLLECTIONS
from services.events.settings import EventsSettings
from shared.events.topics import Topic
from shared.mongo import drop_collections

TOPICS: Final = (Topic.COMMUNITIES, Topic.SESSIONS)
"""What the projection's consumer group reads, from the beginning, to rebuild it."""
RETIRED_COLLECTIONS: Final = ("memberships",)
"""What earlier versions of the projection kept and this one no longer writes (the roster now
lives in each community's document): a rebuild drops them too, so it also migrates."""
COLLECTIONS: Final = (*PROJECTION_COLLECTIONS, APPLIED_EVENTS, *RETIRED_COLLECTIONS)
"""What the projection is made of, and all that a rebuild may drop."""


async def prepare_rebuild(settings: EventsSettings) -> list[str]:
    """Drop the projection's collections, with the service stopped; it re-applies the topics
    when it starts with its consumer group rewound. Returns the collections dropped."""
    return await drop_collections(settings, COLLECTIONS, app_name="cop-events-rebuild")
