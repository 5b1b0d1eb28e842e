"""Rebuilding recognition's projection from its topics (run by `copctl replay recognition`).

The projection (`adapters/projection.PROJECTION`) is dropped and re-applied from every domain
topic; the leaderboards in Redis are dropped with it and rebuilt as facts arrive, and so are the
kept health numbers and their marks (`adapters/health_store.COLLECTIONS`), whose counts start
again. Decisions are kept: the judge's allowance record, and the badges and alerts already
published (each is published once; a replay re-derives the same ones and finds them recorded),
and the health-check rounds' ballot boxes and respondents, which are on no topic. The judge has
its own consumer group, which a replay does not rewind: the judgements on `cop.recognition` are
final.
"""

from typing import Final

from redis.asyncio import Redis

from services.recognition.adapters.health_store import COLLECTIONS as KEPT_HEALTH
from services.recognition.adapters.leaderboard import Leaderboards
from services.recognition.adapters.projection import PROJECTION
from services.recognition.settings import RecognitionSettings
from shared.events.topics import Topic
from shared.mongo import drop_collections

TOPICS: Final = (Topic.COMMUNITIES, Topic.SESSIONS, Topic.KNOWLEDGE, Topic.RECOGNITION)
"""What the projection's consumer group reads, from the beginning, to rebuild it."""
JUDGE_TOPICS: Final = (Topic.RECOGNITION,)
"""What the kudos judge reads, in a group of its own (`<group>-judge`)."""
COLLECTIONS: Final = (*PROJECTION, *KEPT_HEALTH)
"""What the projection is made of, with the health numbers kept beside it: all that a rebuild
may drop."""


async def prepare_rebuild(settings: RecognitionSettings) -> list[str]:
    """Drop the projection's collections and leaderboards, with the service stopped; it
    re-applies the topics when it starts with its consumer group rewound. Returns what was
    dropped."""
    dropped = await drop_collections(settings, COLLECTIONS, app_name="cop-recognition-rebuild")
    redis = Redis.from_url(settings.redis_url, decode_responses=True, **settings.redis_options())
    try:
        boards = await Leaderboards(redis, settings.mongodb_database).forget()
    finally:
        await redis.aclose()
    return [*dropped, f"{boards} leaderboard keys"]
