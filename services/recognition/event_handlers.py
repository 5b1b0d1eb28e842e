"""How recognition applies the events it consumes: one handler per event type.

Two consumers: the projection (every domain topic, rebuilt by a replay) and the kudos judge
(`cop.recognition`, its own consumer group, never rewound by a replay), which turns each
`kudos.given` into a final `kudos.judged` that every count derives from.
"""

import uuid
from typing import Any

from opentelemetry import trace

from services.recognition.adapters.judge import KudosAllowances
from services.recognition.adapters.projection import RecognitionProjection, RecognitionWrites
from services.recognition.domain import ledger
from services.recognition.domain.periods import month_key
from shared.events.catalog import (
    ActionItemClosed,
    ActionItemOpened,
    ArtifactPublished,
    ArtifactReused,
    ArtifactRevised,
    BadgeAwarded,
    FeedbackSubmitted,
    HealthAlertRaised,
    KudosGiven,
    KudosJudged,
    KudosVerdict,
    MemberJoined,
    MemberLeft,
    MemberProfileUpdated,
    SessionHeld,
)
from shared.events.envelope import new_event
from shared.kafka import EventBus
from shared.keys import field_key
from shared.messagebus import EventHandlers, Fact
from shared.mongo import bson_time

SOURCE = "cop/recognition"
W = RecognitionWrites


def judgement_id(kudos_id: str) -> str:
    """The one event id a kudos' judgement ever has, so a repeated judgement is a duplicate."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cop:kudos.judged:{kudos_id}"))


async def kudos_given(fact: Fact[KudosGiven], uow: W) -> None:
    k = fact.data
    uow.kudos(
        k.kudos_id,
        on_insert={
            **k.model_dump(mode="json"),
            "event_id": fact.event_id,
            "given_at": bson_time(fact.time),
        },
        fields={},
    )


async def kudos_judged(fact: Fact[KudosJudged], uow: W) -> None:
    k, at = fact.data, bson_time(fact.time)
    counted = [r.member_id for r in k.recipients if r.verdict == KudosVerdict.COUNTED]
    uow.kudos(
        k.kudos_id,
        on_insert={
            "kudos_id": k.kudos_id,
            "from_id": k.from_id,
            "community_id": k.community_id,
            "message": k.message,
            "value_tag": k.value_tag,
            "given_at": at,
        },
        fields={
            "status": "judged",
            "period": k.period,
            "counted_for": counted,
            "recipients": [r.model_dump(mode="json") for r in k.recipients],
        },
    )
    uow.ledger(ledger.kudos_judged(fact.event_id, at, k))
    if counted:
        item = [k.kudos_id, k.from_id, counted, at, k.value_tag, k.message]
        uow.bucket_item(k.community_id, at, "kudos", field_key(k.kudos_id), item)
        uow.kudos_received(k.community_id, month_key(at), counted)


async def session_held(fact: Fact[SessionHeld], uow: W) -> None:
    s, at = fact.data, bson_time(fact.time)
    uow.ledger(ledger.session_held(fact.event_id, at, s))
    item = [s.session_id, at, s.facilitator_id, s.speaker_ids, s.attendee_ids]
    uow.bucket_item(s.community_id, at, "sessions", field_key(fact.event_id), item)
    uow.session_held(s.community_id, at)


async def feedback_submitted(fact: Fact[FeedbackSubmitted], uow: W) -> None:
    f, at = fact.data, bson_time(fact.time)
    uow.ledger(ledger.feedback_submitted(fact.event_id, at, f))
    item = [f.member_id, f.rating, f.applied, at]
    uow.bucket_item(f.community_id, at, "feedback", field_key(fact.event_id), item)


async def action_item_opened(fact: Fact[ActionItemOpened], uow: W) -> None:
    a, at = fact.data, bson_time(fact.time)
    uow.action_item(a.action_item_id, opened_at=at)
    uow.bucket_item(a.community_id, at, "opened", field_key(fact.event_id), [a.action_item_id, at])


async def action_item_closed(fact: Fact[ActionItemClosed], uow: W) -> None:
    a, at = fact.data, bson_time(fact.time)
    uow.ledger(ledger.action_item_closed(fact.event_id, at, a))
    uow.action_item(a.action_item_id, closed_at=at)


async def artifact_published(fact: Fact[ArtifactPublished], uow: W) -> None:
    a, at = fact.data, bson_time(fact.time)
    uow.ledger(ledger.artifact_published(fact.event_id, at, a))
    uow.artifact(
        a.artifact_id, {"community_id": a.community_id, "authors": a.author_ids}, first=True
    )
    uow.bucket_item(a.community_id, at, "published", field_key(a.artifact_id), [a.artifact_id, at])


async def artifact_revised(fact: Fact[ArtifactRevised], uow: W) -> None:
    uow.ledger(ledger.artifact_revised(fact.event_id, bson_time(fact.time), fact.data))


async def artifact_reused(fact: Fact[ArtifactReused], uow: W) -> None:
    a, at = fact.data, bson_time(fact.time)
    key = field_key(fact.event_id)
    uow.ledger(ledger.artifact_reused(fact.event_id, at, a))
    uow.artifact(a.artifact_id, {f"r.{key}": [a.member_id, a.team, at]})
    uow.bucket_item(a.community_id, at, "reuses", key, [a.artifact_id, a.member_id, a.team, at])


async def member_joined(fact: Fact[MemberJoined], uow: W) -> None:
    m = fact.data
    uow.membership(
        m.community_id, m.member_id, field_key(fact.event_id), bson_time(fact.time), "joined"
    )


async def member_left(fact: Fact[MemberLeft], uow: W) -> None:
    m = fact.data
    uow.membership(
        m.community_id, m.member_id, field_key(fact.event_id), bson_time(fact.time), "left"
    )


async def profile_updated(fact: Fact[MemberProfileUpdated], uow: W) -> None:
    p = fact.data
    uow.team(p.member_id, field_key(fact.event_id), bson_time(fact.time), p.team)


async def badge_awarded(fact: Fact[BadgeAwarded], uow: W) -> None:
    b = fact.data
    uow.decision("badges", f"{b.member_id}|{b.badge}", _decision(fact, b.model_dump(mode="json")))


async def alert_raised(fact: Fact[HealthAlertRaised], uow: W) -> None:
    a = fact.data
    doc_id = f"{a.community_id}|{a.alert}|{a.period}"
    uow.decision("alerts", doc_id, _decision(fact, a.model_dump(mode="json")))


def _decision(fact: Fact[Any], data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "event_id": fact.event_id, "at": bson_time(fact.time)}


def projection_handlers(projection: RecognitionProjection) -> EventHandlers[RecognitionWrites]:
    """Every event type the projection applies, and its handler."""
    return (
        EventHandlers("recognition", projection.unit_of_work)
        .on(KudosGiven, kudos_given)
        .on(KudosJudged, kudos_judged)
        .on(SessionHeld, session_held)
        .on(FeedbackSubmitted, feedback_submitted)
        .on(ActionItemOpened, action_item_opened)
        .on(ActionItemClosed, action_item_closed)
        .on(ArtifactPublished, artifact_published)
        .on(ArtifactRevised, artifact_revised)
        .on(ArtifactReused, artifact_reused)
        .on(MemberJoined, member_joined)
        .on(MemberLeft, member_left)
        .on(MemberProfileUpdated, profile_updated)
        .on(BadgeAwarded, badge_awarded)
        .on(HealthAlertRaised, alert_raised)
    )


class JudgeWork:
    """One batch of kudos to judge; the judgements are published when it commits."""

    def __init__(self, allowances: KudosAllowances, bus: EventBus, tracer: trace.Tracer) -> None:
        self._allowances = allowances
        self._bus = bus
        self._tracer = tracer
        self.facts: list[Fact[KudosGiven]] = []

    def handled(self, event_id: str, event_type: str) -> None:
        pass

    async def commit(self) -> None:
        if not self.facts:
            return
        judged = await self._allowances.judge(self.facts)
        await self._bus.publish_all(
            self._publish(fact, judgement)
            for fact, judgement in zip(self.facts, judged, strict=True)
        )

    async def _publish(self, fact: Fact[KudosGiven], judgement: KudosJudged) -> None:
        event = new_event(
            judgement, source=SOURCE, event_id=judgement_id(judgement.kudos_id), time=fact.time
        )
        # In the kudos' own trace: a request's kudos stays one trace to its notification.
        with fact.consumed.span(self._tracer, "recognition judge kudos"):
            await self._bus.publish(event)


async def judge_kudos(fact: Fact[KudosGiven], uow: JudgeWork) -> None:
    uow.facts.append(fact)


def judge_handlers(
    allowances: KudosAllowances, bus: EventBus, tracer: trace.Tracer
) -> EventHandlers[JudgeWork]:
    return EventHandlers(
        "recognition-judge", lambda: JudgeWork(allowances, bus, tracer), tracer=tracer
    ).on(KudosGiven, judge_kudos)
