"""How recognition applies the events it consumes: one handler per event type.

Two consumers: the projection (every domain topic, rebuilt by a replay) and the kudos judge
(`cop.recognition`, its own consumer group, never rewound by a replay), which turns each
`kudos.given` into a final `kudos.judged` that every count derives from. After each batch the
projection applies, `Settlement` awards the badges the batch earned and raises the leaderboard
scores it changed, and `HealthCheckAlerts` raises the alerts of the health-check rounds it closed.
"""

from typing import Any

from opentelemetry import trace

from services.recognition.adapters.decisions import (
    SOURCE,
    Decisions,
    alert_parts,
    judgement_id,
)
from services.recognition.adapters.health_checks import HealthCheckRounds, results_of
from services.recognition.adapters.judge import KudosAllowances
from services.recognition.adapters.leaderboard import Leaderboards, scores_by_period
from services.recognition.adapters.projection import (
    RecognitionProjection,
    RecognitionWrites,
    Touched,
    standing_in_week,
    standing_of,
)
from services.recognition.domain import badges, health, ledger
from services.recognition.domain import health_checks as health_check_rules
from services.recognition.domain.periods import month_key, parse, quarter_key
from services.recognition.domain.standing import total
from shared.events.catalog import (
    ActionItemClosed,
    ActionItemOpened,
    ArtifactPublished,
    ArtifactReused,
    ArtifactRevised,
    BadgeAwarded,
    CommunityCreated,
    CommunityLeaderChanged,
    CommunityUpdated,
    FeedbackSubmitted,
    HealthAlertRaised,
    HealthCheckClosed,
    HealthCheckOpened,
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

W = RecognitionWrites


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
    uow.action_item(a.action_item_id, a.community_id, opened_at=at)
    uow.bucket_item(a.community_id, at, "opened", field_key(fact.event_id), [a.action_item_id, at])


async def action_item_closed(fact: Fact[ActionItemClosed], uow: W) -> None:
    a, at = fact.data, bson_time(fact.time)
    uow.ledger(ledger.action_item_closed(fact.event_id, at, a))
    uow.action_item(a.action_item_id, a.community_id, closed_at=at)


async def artifact_published(fact: Fact[ArtifactPublished], uow: W) -> None:
    a, at = fact.data, bson_time(fact.time)
    uow.ledger(ledger.artifact_published(fact.event_id, at, a))
    uow.artifact_authors(a.artifact_id, a.community_id, a.author_ids)
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
    doc_id = "|".join(alert_parts(a.community_id, a.alert, a.period, a.details))
    uow.decision("alerts", doc_id, _decision(fact, a.model_dump(mode="json")))


async def charter_goals(fact: Fact[CommunityCreated] | Fact[CommunityUpdated], uow: W) -> None:
    """The goals of a community's charter, which its health answer judges each period by."""
    charter = fact.data.charter
    if charter is not None:
        goals = [g.model_dump(mode="json") for g in charter.health_goals]
        uow.updates.set(uow.p.communities, fact.data.community_id, health_goals=goals)


def _decision(fact: Fact[Any], data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "event_id": fact.event_id, "at": bson_time(fact.time)}


class HealthCheckEvents:
    """Health-check rounds and the leaders they are opened by. A round is the service's own:
    a round's events from any other source are ignored."""

    def __init__(self, rounds: HealthCheckRounds) -> None:
        self._rounds = rounds

    async def opened(self, fact: Fact[HealthCheckOpened], uow: W) -> None:
        if fact.source == SOURCE:
            self._rounds.opened(uow.updates, fact.data, bson_time(fact.time))

    async def closed(self, fact: Fact[HealthCheckClosed], uow: W) -> None:
        if fact.source == SOURCE:
            self._rounds.closed(uow.updates, fact.data, bson_time(fact.time))
            uow.touched.health_checks.add(fact.data.round_id)

    async def community_created(self, fact: Fact[CommunityCreated], uow: W) -> None:
        c = fact.data
        key, at = field_key(fact.event_id), bson_time(fact.time)
        self._rounds.leader(uow.updates, c.community_id, key, at, c.leader_id)

    async def leader_changed(self, fact: Fact[CommunityLeaderChanged], uow: W) -> None:
        c = fact.data
        key, at = field_key(fact.event_id), bson_time(fact.time)
        self._rounds.leader(uow.updates, c.community_id, key, at, c.leader_id)


def projection_handlers(projection: RecognitionProjection) -> EventHandlers[RecognitionWrites]:
    """Every event type the projection applies, and its handler."""
    rounds = HealthCheckEvents(HealthCheckRounds(projection.db))

    async def community_created(fact: Fact[CommunityCreated], uow: W) -> None:
        await rounds.community_created(fact, uow)
        await charter_goals(fact, uow)

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
        .on(CommunityCreated, community_created)
        .on(CommunityUpdated, charter_goals)
        .on(CommunityLeaderChanged, rounds.leader_changed)
        .on(HealthCheckOpened, rounds.opened)
        .on(HealthCheckClosed, rounds.closed)
    )


class Settlement:
    """After each batch the projection applies: the badges it earned, the scores it changed."""

    def __init__(
        self, projection: RecognitionProjection, boards: Leaderboards, decisions: Decisions
    ) -> None:
        self.projection = projection
        self._boards = boards
        self._decisions = decisions

    async def settle(self, touched: Touched) -> None:
        """Award the badges the batch earned and raise the leaderboard scores it changed."""
        rollups = await self.projection.rollups_of(touched.members())
        # A badge a member earns is awarded in the first of the communities the batch touched
        # for them (by id).
        first_community: dict[str, str] = {}
        for member, community, _ in touched.member_months:
            known = first_community.get(member)
            if known is None or community < known:
                first_community[member] = community
        awards = []
        for member, docs in rollups.items():
            standing = total(standing_of(d) for d in docs)
            community = first_community[member]
            awards += [(member, b, community) for b in badges.earned_by_standing(standing)]
        awards += await self._spreaders(touched.artifacts)
        await self._decisions.award(awards)
        await self._raise_scores(touched, rollups)

    async def _spreaders(self, artifact_ids: set[str]) -> list[tuple[str, str, str]]:
        if not artifact_ids:
            return []
        docs = await self.projection.artifacts.find({"_id": {"$in": sorted(artifact_ids)}}).to_list(
            None
        )
        docs = [d for d in docs if d.get("authors") and d.get("r")]
        people = {a for d in docs for a in d["authors"]}
        people |= {member for d in docs for member, _, _ in d["r"].values()}
        teams = await self.projection.team_changes(people)
        found = []
        for d in docs:
            reuses = [health.Reuse(d["_id"], m, team, at) for m, team, at in d["r"].values()]
            if len(badges.spreading_teams(d["authors"], reuses, teams)) >= badges.SPREAD_TEAMS:
                found += [(a, "pattern_spreader", d["community_id"]) for a in d["authors"]]
        return found

    async def _raise_scores(
        self, touched: Touched, rollups: dict[str, list[dict[str, Any]]]
    ) -> None:
        per_community: dict[str, list[tuple[str, dict[str, int]]]] = {}
        for member, community, month in touched.member_months:
            doc = next((d for d in rollups.get(member, []) if d["community_id"] == community), None)
            if doc is None:
                continue
            quarter = parse(quarter_key(parse(month).start))
            scores = {
                "all": standing_of(doc).score,
                month: standing_of(doc, [month]).score,
                quarter.key: standing_of(doc, quarter.months()).score,
            }
            for week in {k.split("_")[0] for k in doc.get("w", {}) if k.endswith(f"_{month}")}:
                scores[week] = standing_in_week(doc, week).score
            positive = {period: score for period, score in scores.items() if score > 0}
            per_community.setdefault(community, []).append((member, positive))
        for community, standings in per_community.items():
            await self._boards.raise_scores(community, scores_by_period(standings))


class HealthCheckAlerts:
    """After each batch the projection applies: the alerts of the health-check rounds it
    closed, judged against the two rounds with results before each."""

    def __init__(self, rounds: HealthCheckRounds, decisions: Decisions) -> None:
        self._rounds = rounds
        self._decisions = decisions

    async def settle(self, touched: Touched) -> None:
        for round_id in sorted(touched.health_checks):
            doc = await self._rounds.round(round_id)
            current = results_of(doc) if doc is not None else None
            if doc is None or current is None:
                continue
            earlier = await self._rounds.earlier_with_results(doc, 2)
            previous = results_of(earlier[0]) if earlier else None
            before = results_of(earlier[1]) if len(earlier) > 1 else None
            titles = {c["card_id"]: c["title"] for c in doc["cards"]}
            raised = [
                (round_id, alert, _card_alert(doc, titles, current[card], previous))
                for card, alert in health_check_rules.alerts(current, previous, before)
            ]
            await self._decisions.raise_alerts(doc["community_id"], raised)


def _card_alert(
    doc: dict[str, Any],
    titles: dict[str, str],
    result: health_check_rules.CardResult,
    previous: health_check_rules.Results | None,
) -> dict[str, Any]:
    """An alert's details: the card, and its score now and in the previous round."""
    before = previous.get(result.card_id) if previous is not None else None
    details: dict[str, Any] = {
        "card": result.card_id,
        "title": titles.get(result.card_id, result.card_id),
        "template": doc["template"],
    }
    if result.score is not None:
        details["score"] = float(result.score)
    if before is not None and before.score is not None:
        details["previous_score"] = float(before.score)
    return details


class JudgeWork:
    """One batch of kudos to judge; the judgements are published when it commits."""

    def __init__(self, allowances: KudosAllowances, bus: EventBus, tracer: trace.Tracer) -> None:
        self._allowances = allowances
        self._bus = bus
        self._tracer = tracer
        self.facts: list[Fact[KudosGiven]] = []

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
