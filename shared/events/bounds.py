"""How many items a list or a map may hold, in events and in the bodies that make them.

One definition of each bound: the catalog's models use them, so every service's HTTP bodies (made
from those models) and the inbound gateway (which checks other systems' events against them)
refuse the same lists, with a 422 naming the field; bodies that are not events (preferences,
channels, source systems) take theirs from here too. Each bound is well above what a real
community needs, and small enough that one event, and whatever a consumer makes of it (a delivery
per attendee, a ledger entry per speaker), stays small.

Consumers decode with the same models, so an event beyond a bound that is already on a topic
(made before the bound) is parked on the consumer's dead-letter topic like any event that breaks
the schema: raising a bound is safe, lowering one can park old events on a replay.
"""

from typing import Final

MAX_ATTENDEES: Final = 1000
"""Attendees of one session (`attendee_ids`): an all-hands demo day of a large community."""

MAX_SPEAKERS: Final = 50
"""Speakers of one session (`speaker_ids`): a demo day or lightning talks with many teams."""

MAX_AGENDA_ITEMS: Final = 50
"""Items of a session's agenda."""

MAX_TAGS: Final = 20
"""Tags of a session or an artifact."""

MAX_CHARTER_ITEMS: Final = 20
"""Goals, and success measures, of a community's charter (each)."""

MAX_SPONSORS: Final = 20
"""Sponsors named when a community is founded (`sponsor_ids`)."""

MAX_AUTHORS: Final = 50
"""Authors of one artifact (`author_ids`)."""

MAX_RELATED_ARTIFACTS: Final = 100
"""Links from one artifact to others (`related_artifact_ids`)."""

MAX_KUDOS_RECIPIENTS: Final = 20
"""Recipients of one kudos (`to_ids`, and the judge's `recipients`): no more than the default
monthly allowance of a giver."""

MAX_ALERT_DETAILS: Final = 50
"""Entries of a health alert's `details`."""

MAX_PREFERENCE_COMMUNITIES: Final = 200
"""Communities with a level in one member's notification preferences (`communities`)."""

MAX_FOLLOWED_TAGS: Final = 100
"""Tags one member follows in their notification preferences (`tags`)."""

MAX_CHANNELS: Final = 10
"""Chat channels of one community."""

MAX_SOURCE_TYPES: Final = 100
"""Event types one source system is registered for (the catalog has fewer)."""

MAX_HEALTH_CHECK_CARDS: Final = 30
"""Cards of one health-check round: a deck of eleven and the cards a leader adds to it."""

MAX_HEALTH_CHECK_COMMENTS: Final = 2000
"""Comments on one card of a closed health-check round (the round's comments also share a
size budget, so that its closing event stays well under Kafka's message size)."""

MAX_TOPIC_VOTERS: Final = 1000
"""Voters a session scheduled from a backlog topic carries (`voter_ids`), to be invited: the
first ones by when they voted, should a topic ever have more."""
