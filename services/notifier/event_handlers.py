"""The event types the notifier reacts to, and the handler of each."""

from services.notifier.handlers import Planner, PlanningWork
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


def event_handlers(planner: Planner) -> EventHandlers[PlanningWork]:
    """Every event type the notifier reacts to, and its handler."""
    return (
        EventHandlers(
            "notifier", planner.unit_of_work, tracer=planner.tracer, prepare=planner.prepare
        )
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
