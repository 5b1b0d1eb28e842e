"""How the impact service applies the events it consumes: one handler per event type.

CI/CD facts (CDEvents) are kept at their own time (the CDEvent's `context.timestamp`); the
platform's events at the event's time. Each lands under the key of its event, so a duplicate or
a redelivery writes nothing new and the order of arrival does not matter.
"""

from collections.abc import Callable
from typing import Any

from services.impact.adapters.projection import DEPLOYED, UPGRADED, ImpactWrites
from shared.events.catalog import (
    ArtifactPublished,
    ArtifactReused,
    KudosJudged,
    KudosVerdict,
    MemberProfileUpdated,
    ServiceOwnerAssigned,
    SessionHeld,
)
from shared.events.cdevents import (
    ArtifactPackaged,
    ChangeMerged,
    IncidentDetected,
    IncidentResolved,
    ServiceDeployed,
    ServiceRolledBack,
    ServiceUpgraded,
)
from shared.keys import field_key
from shared.messagebus import EventHandlers, Fact
from shared.mongo import bson_time

W = ImpactWrites

SESSIONS, AUTHORED, KUDOS = "sessions", "authored", "kudos"


def _key(fact: Fact[Any]) -> str:
    return field_key(fact.event_id)


# --- CI/CD facts (cop.cicd) ---


async def change_merged(fact: Fact[ChangeMerged], uow: W) -> None:
    uow.change_merged(fact.data.subject.id, _key(fact), bson_time(fact.data.at))


async def artifact_packaged(fact: Fact[ArtifactPackaged], uow: W) -> None:
    subject = fact.data.subject
    uow.artifact_packaged(subject.id, subject.content.change.id, _key(fact))


def _deployment(fact: Fact[ServiceDeployed] | Fact[ServiceUpgraded], kind: str, uow: W) -> None:
    subject = fact.data.subject
    content = subject.content
    at = bson_time(fact.data.at)
    uow.deployment(subject.id, content.artifact_id, content.environment.id, at, _key(fact), kind)


async def service_deployed(fact: Fact[ServiceDeployed], uow: W) -> None:
    _deployment(fact, DEPLOYED, uow)


async def service_upgraded(fact: Fact[ServiceUpgraded], uow: W) -> None:
    _deployment(fact, UPGRADED, uow)


async def service_rolled_back(fact: Fact[ServiceRolledBack], uow: W) -> None:
    subject = fact.data.subject
    environment = subject.content.environment.id
    uow.rollback(subject.id, environment, bson_time(fact.data.at), _key(fact))


async def incident_detected(fact: Fact[IncidentDetected], uow: W) -> None:
    subject = fact.data.subject
    content = subject.content
    uow.incident_detected(
        subject.id,
        _key(fact),
        bson_time(fact.data.at),
        content.environment.id,
        content.service.id if content.service else None,
        content.artifact_id,
    )


async def incident_resolved(fact: Fact[IncidentResolved], uow: W) -> None:
    uow.incident_resolved(fact.data.subject.id, _key(fact), bson_time(fact.data.at))


async def owner_assigned(fact: Fact[ServiceOwnerAssigned], uow: W) -> None:
    o = fact.data
    made_at = bson_time(fact.time)
    effective = bson_time(o.since) if o.since is not None else made_at
    uow.owner(o.service_id, o.team, effective, made_at, _key(fact))


# --- the communities' facts ---


async def profile_updated(fact: Fact[MemberProfileUpdated], uow: W) -> None:
    p = fact.data
    uow.member_team(p.member_id, p.team, bson_time(fact.time), _key(fact))


async def session_held(fact: Fact[SessionHeld], uow: W) -> None:
    s, at = fact.data, bson_time(fact.time)
    for member_id in dict.fromkeys(s.attendee_ids):
        uow.member_fact(member_id, SESSIONS, s.session_id, at, _key(fact))


async def artifact_published(fact: Fact[ArtifactPublished], uow: W) -> None:
    a, at = fact.data, bson_time(fact.time)
    for member_id in dict.fromkeys(a.author_ids):
        uow.member_fact(member_id, AUTHORED, a.artifact_id, at, _key(fact))


async def artifact_reused(fact: Fact[ArtifactReused], uow: W) -> None:
    if fact.data.team:
        uow.reuse(fact.data.team, bson_time(fact.time), _key(fact))


async def kudos_judged(fact: Fact[KudosJudged], uow: W) -> None:
    k, at = fact.data, bson_time(fact.time)
    for recipient in k.recipients:
        if recipient.verdict == KudosVerdict.COUNTED:
            uow.member_fact(recipient.member_id, KUDOS, k.kudos_id, at, _key(fact))


def event_handlers(unit_of_work: Callable[[], W]) -> EventHandlers[W]:
    return (
        EventHandlers("impact", unit_of_work)
        .on(ChangeMerged, change_merged)
        .on(ArtifactPackaged, artifact_packaged)
        .on(ServiceDeployed, service_deployed)
        .on(ServiceUpgraded, service_upgraded)
        .on(ServiceRolledBack, service_rolled_back)
        .on(IncidentDetected, incident_detected)
        .on(IncidentResolved, incident_resolved)
        .on(ServiceOwnerAssigned, owner_assigned)
        .on(MemberProfileUpdated, profile_updated)
        .on(SessionHeld, session_held)
        .on(ArtifactPublished, artifact_published)
        .on(ArtifactReused, artifact_reused)
        .on(KudosJudged, kudos_judged)
    )
