"""The contribution ledger: what each fact is worth to whom, as give and take points.

| contribution        | member                                          | give | take |
|---------------------|-------------------------------------------------|------|------|
| session held        | each speaker                                    | 3    |      |
| session held        | the facilitator                                 | 3    |      |
| session held        | each attendee neither speaker nor facilitator   |      | 1    |
| session held        | the proposer of the backlog topic it came from  | 1    |      |
| artifact published  | each author                                     | 3    |      |
| artifact revised    | the editor                                      | 1    |      |
| kudos given         | the giver, per counted recipient                | 1    |      |
| feedback submitted  | the member                                      | 1    |      |
| action item closed  | the owner                                       | 2    |      |
| artifact reused     | the member                                      |      | 1    |

Entries are pure functions of one fact, and each has a key made from the event id, the member,
the contribution and its detail: applying a fact twice writes the same keys again.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.events.catalog import (
    ActionItemClosed,
    ArtifactPublished,
    ArtifactReused,
    ArtifactRevised,
    FeedbackSubmitted,
    KudosJudged,
    KudosVerdict,
    SessionHeld,
)
from shared.keys import field_key


class Contribution(StrEnum):
    SPOKE = "spoke"
    FACILITATED = "facilitated"
    ATTENDED = "attended"
    AUTHORED = "authored"
    REVISED = "revised"
    KUDOS_GIVEN = "kudos_given"
    FEEDBACK = "feedback"
    ACTION_CLOSED = "action_closed"
    REUSED = "reused"
    TOPIC_HELD = "topic_held"  # a topic proposed and held


@dataclass(frozen=True)
class LedgerEntry:
    community_id: str
    member_id: str
    contribution: Contribution
    give: int
    take: int
    at: datetime
    key: str


def _entry(
    event_id: str,
    community_id: str,
    member_id: str,
    contribution: Contribution,
    at: datetime,
    *,
    give: int = 0,
    take: int = 0,
    detail: str = "",
) -> LedgerEntry:
    key = field_key(event_id, member_id, contribution, detail)
    return LedgerEntry(community_id, member_id, contribution, give, take, at, key)


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def session_held(event_id: str, at: datetime, held: SessionHeld) -> list[LedgerEntry]:
    c = held.community_id
    speakers = _unique(held.speaker_ids)
    entries = [_entry(event_id, c, s, Contribution.SPOKE, at, give=3) for s in speakers]
    entries.append(_entry(event_id, c, held.facilitator_id, Contribution.FACILITATED, at, give=3))
    hosts = {*speakers, held.facilitator_id}
    entries += [
        _entry(event_id, c, a, Contribution.ATTENDED, at, take=1)
        for a in _unique(held.attendee_ids)
        if a not in hosts
    ]
    if held.topic_proposed_by is not None:
        proposer = held.topic_proposed_by
        entries.append(_entry(event_id, c, proposer, Contribution.TOPIC_HELD, at, give=1))
    return entries


def artifact_published(event_id: str, at: datetime, a: ArtifactPublished) -> list[LedgerEntry]:
    """Keyed by the artifact, not the event: an artifact published twice (a retried import, two
    systems) is authored once."""
    return [
        _entry(a.artifact_id, a.community_id, author, Contribution.AUTHORED, at, give=3)
        for author in _unique(a.author_ids)
    ]


def artifact_revised(event_id: str, at: datetime, a: ArtifactRevised) -> list[LedgerEntry]:
    return [_entry(event_id, a.community_id, a.editor_id, Contribution.REVISED, at, give=1)]


def artifact_reused(event_id: str, at: datetime, a: ArtifactReused) -> list[LedgerEntry]:
    return [_entry(event_id, a.community_id, a.member_id, Contribution.REUSED, at, take=1)]


def kudos_judged(event_id: str, at: datetime, k: KudosJudged) -> list[LedgerEntry]:
    return [
        _entry(
            event_id,
            k.community_id,
            k.from_id,
            Contribution.KUDOS_GIVEN,
            at,
            give=1,
            detail=r.member_id,
        )
        for r in k.recipients
        if r.verdict == KudosVerdict.COUNTED
    ]


def feedback_submitted(event_id: str, at: datetime, f: FeedbackSubmitted) -> list[LedgerEntry]:
    return [_entry(event_id, f.community_id, f.member_id, Contribution.FEEDBACK, at, give=1)]


def action_item_closed(event_id: str, at: datetime, a: ActionItemClosed) -> list[LedgerEntry]:
    return [_entry(event_id, a.community_id, a.owner_id, Contribution.ACTION_CLOSED, at, give=2)]
