"""The event types the notifier reacts to, and the handler of each."""

from services.notifier.handlers import Planner
from shared.events.catalog import (
    ArtifactPublished,
    ArtifactRevised,
    BadgeAwarded,
    CommunityCreated,
    CommunityLeaderChanged,
    HealthAlertRaised,
    KudosJudged,
    MemberJoined,
    MemberLeft,
    MemberProfileUpdated,
    SessionCancelled,
    SessionHeld,
    SessionRescheduled,
    SessionScheduled,
)
from shared.messagebus import EventHandlers


class PlanningWork:
    """The notifier's unit of work: each handler writes as it goes (what it knows, and the
    deliveries it plans, each insert-once), so a batch has nothing left to write at its end."""

    def handled(self, event_id: str, event_type: str) -> None:
        pass

    async def commit(self) -> None:
        pass


def event_handlers(planner: Planner) -> EventHandlers[PlanningWork]:
    """Every event type the notifier reacts to, and its handler."""
    return (
        EventHandlers("notifier", PlanningWork, tracer=planner.tracer)
        .on(MemberProfileUpdated, planner.profile_updated)
        .on(MemberJoined, planner.member_joined)
        .on(MemberLeft, planner.member_left)
        .on(CommunityCreated, planner.community_created)
        .on(CommunityLeaderChanged, planner.leader_changed)
        .on(SessionScheduled, planner.session_scheduled)
        .on(SessionRescheduled, planner.session_rescheduled)
        .on(SessionCancelled, planner.session_cancelled)
        .on(SessionHeld, planner.session_held)
        .on(ArtifactPublished, planner.artifact_published)
        .on(ArtifactRevised, planner.artifact_revised)
        .on(KudosJudged, planner.kudos_judged)
        .on(BadgeAwarded, planner.badge_awarded)
        .on(HealthAlertRaised, planner.alert_raised)
    )
