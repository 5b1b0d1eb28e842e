"""The v1 event catalog: every event type, its data model, its topic and its partition key."""

from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    EmailStr,
    Field,
    HttpUrl,
    model_validator,
)

from shared.community_health import HealthGoal
from shared.events import cdevents
from shared.events.bounds import (
    MAX_AGENDA_ITEMS,
    MAX_ALERT_DETAILS,
    MAX_ATTENDEES,
    MAX_AUTHORS,
    MAX_CHARTER_ITEMS,
    MAX_HEALTH_CHECK_CARDS,
    MAX_HEALTH_CHECK_COMMENTS,
    MAX_KUDOS_RECIPIENTS,
    MAX_RELATED_ARTIFACTS,
    MAX_SPEAKERS,
    MAX_SPONSORS,
    MAX_TAGS,
    MAX_TOPIC_VOTERS,
)
from shared.events.cdevents import ServiceRef as ServiceRef
from shared.events.spec import EventData as EventData
from shared.events.spec import EventSpec as EventSpec
from shared.events.times import Instant as Instant
from shared.events.topics import Topic
from shared.ids import Id as Id

ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=4000)]
Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
MAX_VERSION = 2**31 - 1
"""An artifact's highest version number: every store and every language holds it as an int."""

# Lists, bounded (shared.events.bounds); HTTP bodies reuse these types.
AttendeeIds = Annotated[list[Id], Field(max_length=MAX_ATTENDEES)]
SpeakerIds = Annotated[list[Id], Field(max_length=MAX_SPEAKERS)]
Agenda = Annotated[list[ShortText], Field(max_length=MAX_AGENDA_ITEMS)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]
CharterItems = Annotated[list[ShortText], Field(max_length=MAX_CHARTER_ITEMS)]
SponsorIds = Annotated[list[Id], Field(max_length=MAX_SPONSORS)]
AuthorIds = Annotated[list[Id], Field(max_length=MAX_AUTHORS)]
RelatedArtifactIds = Annotated[list[Id], Field(max_length=MAX_RELATED_ARTIFACTS)]
KudosRecipientIds = Annotated[list[Id], Field(min_length=1, max_length=MAX_KUDOS_RECIPIENTS)]


class Stage(StrEnum):
    POTENTIAL = "potential"
    COALESCING = "coalescing"
    MATURING = "maturing"
    STEWARDSHIP = "stewardship"
    TRANSFORMATION = "transformation"


class Role(StrEnum):
    MEMBER = "member"
    CORE = "core"
    MENTOR = "mentor"
    SPONSOR = "sponsor"


class SessionFormat(StrEnum):
    BROWN_BAG = "brown_bag"
    LUNCH_AND_LEARN = "lunch_and_learn"
    DEMO_DAY = "demo_day"
    PROBLEM_SOLVING = "problem_solving"
    JOURNAL_CLUB = "journal_club"
    LIGHTNING_TALKS = "lightning_talks"
    WORKSHOP = "workshop"
    HACKATHON = "hackathon"
    GUEST_SPEAKER = "guest_speaker"
    RETROSPECTIVE = "retrospective"
    KICKOFF = "kickoff"
    OTHER = "other"


class ArtifactKind(StrEnum):
    PATTERN = "pattern"
    DECISION_LOG = "decision_log"
    TEMPLATE = "template"
    PLAYBOOK = "playbook"
    CHECKLIST = "checklist"
    CASE_STUDY = "case_study"
    BIBLIOGRAPHY = "bibliography"
    MINUTES = "minutes"
    GUIDE = "guide"


class ChannelKind(StrEnum):
    EMAIL = "email"
    SLACK = "slack"
    TEAMS = "teams"
    MATTERMOST = "mattermost"
    WEBHOOK = "webhook"


class ChatPlatform(StrEnum):
    """The chat platforms members act from (slash commands) and whose accounts they link."""

    SLACK = "slack"
    MATTERMOST = "mattermost"
    TEAMS = "teams"


class Charter(EventData):
    purpose: Annotated[str, Field(min_length=1, max_length=2000)]
    scope: Text = ""
    goals: CharterItems = []
    success_measures: CharterItems = []
    # The vision canvas: why the community matters, what it changes for whom, what it has, and
    # the forces for and against it (a force field analysis).
    vision: Text = ""
    importance: Text = ""
    impact: Text = Field("", description="on what and on whom")
    resources: Text = ""
    forces_for: CharterItems = []
    forces_against: CharterItems = []
    health_goals: Annotated[list[HealthGoal], Field(max_length=MAX_CHARTER_ITEMS)] = Field(
        default=[], description="success measures as goals on health metrics, checked per period"
    )


# An event whose ids a request's path or the service supplies extends the fields the request
# gives (`…Fields`); the services' HTTP bodies extend the same fields, so each is defined once.

# --- communities and members (cop.communities) ---


class CommunityCreatedFields(EventData):
    """`CommunityCreated` without its id."""

    name: ShortText
    domain: ShortText
    charter: Charter
    leader_id: Id
    sponsor_ids: SponsorIds = []
    stage: Stage = Stage.POTENTIAL


class CommunityCreated(CommunityCreatedFields):
    community_id: Id
    created_by: Id | None = None


class CommunityUpdatedFields(EventData):
    """`CommunityUpdated` without its id: what changes."""

    name: ShortText | None = None
    charter: Charter | None = None
    stage: Stage | None = None

    @model_validator(mode="after")
    def _something_changed(self) -> Self:
        if self.name is None and self.charter is None and self.stage is None:
            raise ValueError("at least one of name, charter, stage must change")
        return self


class CommunityUpdated(CommunityUpdatedFields):
    community_id: Id
    updated_by: Id | None = None


class CommunityLeaderChanged(EventData):
    community_id: Id
    leader_id: Id
    previous_leader_id: Id


class MemberJoined(EventData):
    community_id: Id
    member_id: Id
    role: Role = Role.MEMBER


class MemberLeft(EventData):
    community_id: Id
    member_id: Id
    role: Role = Role.MEMBER


class MemberProfileUpdatedFields(EventData):
    """`MemberProfileUpdated` without the member's id."""

    name: ShortText
    email: EmailStr
    team: Annotated[str, Field(max_length=200)] = ""
    chat_handle: Annotated[str, Field(max_length=100)] = ""
    timezone: Annotated[str, Field(max_length=64)] = "UTC"


class MemberProfileUpdated(MemberProfileUpdatedFields):
    member_id: Id


class MemberChatLinkedFields(EventData):
    """`MemberChatLinked` without the member's id: the chat account and its name there."""

    platform: ChatPlatform
    workspace_id: Id
    user_id: Id
    user_name: ShortText | None = None


class MemberChatLinked(MemberChatLinkedFields):
    """A chat account (platform, workspace, user) belongs to one member at a time: linking it
    to another member moves it there."""

    member_id: Id


class MemberChatUnlinked(EventData):
    member_id: Id
    platform: ChatPlatform
    workspace_id: Id
    user_id: Id


class CommunityChatChannelMapped(EventData):
    """A chat channel maps to one community at a time (the newest mapping); a community may
    have several channels."""

    community_id: Id
    platform: ChatPlatform
    workspace_id: Id
    channel_id: Id
    channel_name: ShortText | None = None
    mapped_by: Id


# --- sessions, feedback, action items (cop.sessions) ---


class SessionScheduledFields(EventData):
    """`SessionScheduled` without the session's and its community's ids."""

    title: ShortText
    format: SessionFormat
    starts_at: Instant
    duration_minutes: Annotated[int, Field(ge=5, le=24 * 60)]
    location: Annotated[str, Field(max_length=500)] = ""
    facilitator_id: Id
    speaker_ids: SpeakerIds = []
    agenda: Agenda = []
    tags: Tags = []


class SessionScheduled(SessionScheduledFields):
    session_id: Id
    community_id: Id
    topic_id: Id | None = Field(None, description="the backlog topic it was scheduled from")
    voter_ids: Annotated[list[Id], Field(max_length=MAX_TOPIC_VOTERS)] = Field(
        default=[], description="the topic's voters, invited as watching members are"
    )


class SessionRescheduled(EventData):
    session_id: Id
    community_id: Id
    starts_at: Instant


class SessionCancelled(EventData):
    session_id: Id
    community_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=1000)]


class SessionHeld(EventData):
    session_id: Id
    community_id: Id
    held_at: Instant
    duration_minutes: Annotated[int, Field(ge=1, le=24 * 60)]
    format: SessionFormat
    title: ShortText
    facilitator_id: Id
    speaker_ids: SpeakerIds = []
    attendee_ids: AttendeeIds = []
    recording_url: HttpUrl | None = None
    topic_id: Id | None = Field(None, description="the backlog topic it was scheduled from")
    topic_proposed_by: Id | None = Field(None, description="who proposed that topic")


class AttendanceRecorded(EventData):
    """A member checked in to a session before or while it is held."""

    session_id: Id
    community_id: Id
    member_id: Id
    checked_in_at: Instant


class FeedbackSubmittedFields(EventData):
    """`FeedbackSubmitted` without the session's, its community's and the member's ids."""

    rating: Annotated[int, Field(ge=1, le=5)]
    plus: Text = ""
    delta: Text = ""
    applied: bool = False


class FeedbackSubmitted(FeedbackSubmittedFields):
    session_id: Id
    community_id: Id
    member_id: Id


class ActionItemOpened(EventData):
    action_item_id: Id
    community_id: Id
    session_id: Id | None = None
    title: ShortText
    owner_id: Id
    due: Instant | None = None


class ActionItemClosed(EventData):
    action_item_id: Id
    community_id: Id
    session_id: Id | None = None
    title: ShortText
    owner_id: Id
    outcome: Annotated[str, Field(min_length=1, max_length=2000)]


# --- the topic backlog (cop.sessions: a topic becomes a session, in the same order) ---


class TopicProposedFields(EventData):
    """`TopicProposed` without its ids and its proposer."""

    title: ShortText
    description: Text = ""
    speaker_ids: SpeakerIds = Field(default=[], description="volunteers: 'I can present this'")
    tags: Tags = []


class TopicProposed(TopicProposedFields):
    topic_id: Id
    community_id: Id
    proposed_by: Id


class TopicVoted(EventData):
    topic_id: Id
    community_id: Id
    member_id: Id


class TopicUnvoted(EventData):
    topic_id: Id
    community_id: Id
    member_id: Id


class TopicDeclined(EventData):
    topic_id: Id
    community_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=1000)]
    declined_by: Id


class TopicMerged(EventData):
    """The topic's votes move to `into_topic_id`, but for members who voted there already."""

    topic_id: Id
    community_id: Id
    into_topic_id: Id
    merged_by: Id


class TopicReopened(EventData):
    topic_id: Id
    community_id: Id
    reopened_by: Id


# --- knowledge (cop.knowledge) ---


class DecisionStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    SUPERSEDED = "superseded"
    DEPRECATED = "deprecated"


class DecisionRecord(EventData):
    """What a decision log records besides its body (an architecture decision record)."""

    context: Text = ""
    decision: Text = ""
    consequences: Text = ""
    status: DecisionStatus = DecisionStatus.PROPOSED


class CaseStudy(EventData):
    """What a case study records besides its body."""

    what_worked: Text = ""
    what_failed: Text = ""
    why: Text = ""


Markdown = Annotated[str, Field(max_length=200_000)]


class ArtifactPublishedFields(EventData):
    """`ArtifactPublished` without its id, authors and version."""

    community_id: Id
    kind: ArtifactKind
    title: ShortText
    summary: Annotated[str, Field(max_length=1000)] = ""
    body_markdown: Markdown | None = None
    url: HttpUrl | None = None
    tags: Tags = []
    related_artifact_ids: RelatedArtifactIds = []
    session_id: Id | None = None
    decision: DecisionRecord | None = None
    case_study: CaseStudy | None = None

    @model_validator(mode="after")
    def _body_or_url(self) -> Self:
        if (self.body_markdown is None) == (self.url is None):
            raise ValueError("exactly one of body_markdown and url must be given")
        return self


class ArtifactPublished(ArtifactPublishedFields):
    artifact_id: Id
    author_ids: Annotated[AuthorIds, Field(min_length=1)]
    version: Annotated[int, Field(ge=1, le=MAX_VERSION)] = 1


class ArtifactRevisedFields(EventData):
    """`ArtifactRevised` without the ids and the version that the service supplies."""

    change_note: Annotated[str, Field(min_length=1, max_length=2000)]
    title: ShortText | None = None
    summary: Annotated[str, Field(max_length=1000)] | None = None
    body_markdown: Markdown | None = None
    url: HttpUrl | None = None
    tags: Tags | None = None
    related_artifact_ids: RelatedArtifactIds | None = None
    decision: DecisionRecord | None = None
    case_study: CaseStudy | None = None

    @model_validator(mode="after")
    def _not_both_body_and_url(self) -> Self:
        if self.body_markdown is not None and self.url is not None:
            raise ValueError("give body_markdown or url, not both")
        return self


class ArtifactRevised(ArtifactRevisedFields):
    """A new version. The content fields that are given replace the previous version's; those
    left out keep it (the v1 shape, without content, still means "same content, new note")."""

    artifact_id: Id
    community_id: Id
    version: Annotated[int, Field(ge=2, le=MAX_VERSION)]
    editor_id: Id


class ArtifactRetired(EventData):
    artifact_id: Id
    community_id: Id
    version: Annotated[int, Field(ge=1, le=MAX_VERSION)]
    editor_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    superseded_by: Id | None = None


class ArtifactReused(EventData):
    artifact_id: Id
    community_id: Id
    member_id: Id
    team: Annotated[str, Field(max_length=200)] = ""
    context: Annotated[str, Field(max_length=2000)] = ""


# --- recognition (cop.recognition) ---


class KudosGivenFields(EventData):
    """`KudosGiven` without its id and its giver."""

    to_ids: KudosRecipientIds
    community_id: Id
    message: Annotated[str, Field(min_length=1, max_length=1000)]
    value_tag: Tag
    session_id: Id | None = None
    artifact_id: Id | None = None


class KudosGiven(KudosGivenFields):
    kudos_id: Id
    from_id: Id


class KudosVerdict(StrEnum):
    COUNTED = "counted"
    SELF_KUDOS = "self_kudos"
    UNKNOWN_VALUE_TAG = "unknown_value_tag"
    DUPLICATE_RECIPIENT = "duplicate_recipient"
    ALLOWANCE_EXHAUSTED = "allowance_exhausted"


class RecipientVerdict(EventData):
    member_id: Id
    verdict: KudosVerdict


class KudosJudged(EventData):
    """Recognition's final decision on a `kudos.given`: per recipient, counted or why not."""

    kudos_id: Id
    community_id: Id
    from_id: Id
    message: Annotated[str, Field(min_length=1, max_length=1000)]
    value_tag: Tag
    period: Annotated[str, Field(min_length=1, max_length=16, description="the allowance period")]
    recipients: Annotated[
        list[RecipientVerdict], Field(min_length=1, max_length=MAX_KUDOS_RECIPIENTS)
    ]


class BadgeAwarded(EventData):
    member_id: Id
    badge: Tag
    community_id: Id
    reason: Annotated[str, Field(max_length=1000)] = ""


class HealthAlertRaised(EventData):
    community_id: Id
    alert: Tag
    period: Annotated[str, Field(min_length=1, max_length=32)]
    details: Annotated[
        dict[Annotated[str, Field(max_length=64)], Any], Field(max_length=MAX_ALERT_DETAILS)
    ] = {}


# Self-assessment health checks: a round is opened with its cards and closed with the anonymous
# tallies of its answers (answers themselves never travel: docs/recognition.md).


class HealthCheckTemplate(StrEnum):
    COP_HEALTH = "cop-health"
    SQUAD_HEALTH = "squad-health"


CardId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$")]
CardComment = Annotated[str, Field(min_length=1, max_length=500)]
Count = Annotated[int, Field(ge=0)]


class HealthCheckCard(EventData):
    """A card of a round: what it asks about, and what green and red mean for it."""

    card_id: CardId
    title: Annotated[str, Field(min_length=1, max_length=100)]
    green: Annotated[str, Field(min_length=1, max_length=300)]
    red: Annotated[str, Field(min_length=1, max_length=300)]


class HealthCheckOpened(EventData):
    round_id: Id
    community_id: Id
    template: HealthCheckTemplate
    cards: Annotated[list[HealthCheckCard], Field(min_length=1, max_length=MAX_HEALTH_CHECK_CARDS)]
    closes_at: Instant
    min_respondents: Annotated[int, Field(ge=1)]
    opened_by: Id


class HealthCheckCardTally(EventData):
    """How a card was answered: colours, the trend members felt, and their comments (sorted)."""

    card_id: CardId
    green: Count = 0
    amber: Count = 0
    red: Count = 0
    up: Count = 0
    same: Count = 0
    down: Count = 0
    comments: Annotated[list[CardComment], Field(max_length=MAX_HEALTH_CHECK_COMMENTS)] = []


class HealthCheckClosed(EventData):
    """A round's end. `tallies` is null when fewer than `min_respondents` answered: then
    nothing of the answers is kept anywhere."""

    round_id: Id
    community_id: Id
    template: HealthCheckTemplate
    respondents: Count
    members: Count = Field(description="members of the community, its leader included")
    min_respondents: Annotated[int, Field(ge=1)]
    tallies: Annotated[
        list[HealthCheckCardTally] | None, Field(max_length=MAX_HEALTH_CHECK_CARDS)
    ] = None
    comments_left_out: Count = Field(0, description="comments over the round's size budget")


# --- notifications (cop.notifications) ---


class _NotificationOutcome(EventData):
    notification_id: Id
    member_id: Id | None = None
    channel: Annotated[str, Field(max_length=200)] | None = None
    channel_kind: ChannelKind
    cause_event_id: Id
    attempt: Annotated[int, Field(ge=1)] = 1

    @model_validator(mode="after")
    def _member_or_channel(self) -> "_NotificationOutcome":
        if self.member_id is None and self.channel is None:
            raise ValueError("one of member_id and channel must be given")
        return self


class NotificationDelivered(_NotificationOutcome):
    pass


class NotificationFailed(_NotificationOutcome):
    error: Annotated[str, Field(min_length=1, max_length=2000)]


# --- CI/CD (cop.cicd): who owns a service. The CI/CD facts themselves are CDEvents, other
# systems' types with models of their own (shared/events/cdevents.py). ---

TeamName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class ServiceOwnerAssigned(EventData):
    """A team owns a service from `since` (else from the event's time); the first owner of a
    service owns its earlier facts too."""

    service_id: ServiceRef
    team: TeamName
    since: Instant | None = None
    assigned_by: Id


def _spec(
    type_: str, model: type[EventData], topic: Topic, key: str, subject: str, summary: str
) -> EventSpec:
    return EventSpec(type_, model, topic, tuple(key.split("|")), subject, summary)


_C, _S, _K, _R, _N = (
    Topic.COMMUNITIES,
    Topic.SESSIONS,
    Topic.KNOWLEDGE,
    Topic.RECOGNITION,
    Topic.NOTIFICATIONS,
)
_COMMUNITY = "community_id"

CATALOG: dict[str, EventSpec] = {
    s.type: s
    for s in (
        _spec(
            "cop.community.created.v1",
            CommunityCreated,
            _C,
            _COMMUNITY,
            _COMMUNITY,
            "A community of practice was founded with its charter, leader and stage.",
        ),
        _spec(
            "cop.community.updated.v1",
            CommunityUpdated,
            _C,
            _COMMUNITY,
            _COMMUNITY,
            "A community's name, charter or stage changed.",
        ),
        _spec(
            "cop.community.leader_changed.v1",
            CommunityLeaderChanged,
            _C,
            _COMMUNITY,
            _COMMUNITY,
            "A community handed leadership to another member.",
        ),
        _spec(
            "cop.member.joined.v1",
            MemberJoined,
            _C,
            _COMMUNITY,
            "member_id",
            "A member joined a community with a role.",
        ),
        _spec(
            "cop.member.left.v1",
            MemberLeft,
            _C,
            _COMMUNITY,
            "member_id",
            "A member left a community.",
        ),
        _spec(
            "cop.member.profile_updated.v1",
            MemberProfileUpdated,
            _C,
            "member_id",
            "member_id",
            "A member's directory profile (name, e-mail, team, chat) changed.",
        ),
        _spec(
            "cop.member.chat_linked.v1",
            MemberChatLinked,
            _C,
            "member_id",
            "member_id",
            "A chat account was linked to a member, moving it from any member who had it.",
        ),
        _spec(
            "cop.member.chat_unlinked.v1",
            MemberChatUnlinked,
            _C,
            "member_id",
            "member_id",
            "A chat account was unlinked from its member.",
        ),
        _spec(
            "cop.community.chat_channel_mapped.v1",
            CommunityChatChannelMapped,
            _C,
            _COMMUNITY,
            _COMMUNITY,
            "A chat channel was mapped to a community, replacing any earlier mapping of it.",
        ),
        _spec(
            "cop.session.scheduled.v1",
            SessionScheduled,
            _S,
            _COMMUNITY,
            "session_id",
            "A session was put on a community's calendar.",
        ),
        _spec(
            "cop.session.rescheduled.v1",
            SessionRescheduled,
            _S,
            _COMMUNITY,
            "session_id",
            "A scheduled session moved to another time.",
        ),
        _spec(
            "cop.session.cancelled.v1",
            SessionCancelled,
            _S,
            _COMMUNITY,
            "session_id",
            "A scheduled session was cancelled, with the reason.",
        ),
        _spec(
            "cop.session.held.v1",
            SessionHeld,
            _S,
            _COMMUNITY,
            "session_id",
            "A session took place, with its attendees and recording.",
        ),
        _spec(
            "cop.session.attendance_recorded.v1",
            AttendanceRecorded,
            _S,
            _COMMUNITY,
            "session_id",
            "A member checked in to a session.",
        ),
        _spec(
            "cop.feedback.submitted.v1",
            FeedbackSubmitted,
            _S,
            _COMMUNITY,
            "session_id",
            "An attendee rated a session and said what worked and what to change.",
        ),
        _spec(
            "cop.action_item.opened.v1",
            ActionItemOpened,
            _S,
            _COMMUNITY,
            "action_item_id",
            "An improvement experiment or follow-up was opened.",
        ),
        _spec(
            "cop.action_item.closed.v1",
            ActionItemClosed,
            _S,
            _COMMUNITY,
            "action_item_id",
            "An action item was closed with its outcome.",
        ),
        _spec(
            "cop.topic.proposed.v1",
            TopicProposed,
            _S,
            _COMMUNITY,
            "topic_id",
            "A member proposed a topic for the community's backlog, with any volunteer speakers.",
        ),
        _spec(
            "cop.topic.voted.v1",
            TopicVoted,
            _S,
            _COMMUNITY,
            "topic_id",
            "A member voted for an open topic of the backlog.",
        ),
        _spec(
            "cop.topic.unvoted.v1",
            TopicUnvoted,
            _S,
            _COMMUNITY,
            "topic_id",
            "A member took back their vote for an open topic.",
        ),
        _spec(
            "cop.topic.declined.v1",
            TopicDeclined,
            _S,
            _COMMUNITY,
            "topic_id",
            "A leader or core member declined an open topic, with the reason.",
        ),
        _spec(
            "cop.topic.merged.v1",
            TopicMerged,
            _S,
            _COMMUNITY,
            "topic_id",
            "An open topic was merged into another one, which takes its votes.",
        ),
        _spec(
            "cop.topic.reopened.v1",
            TopicReopened,
            _S,
            _COMMUNITY,
            "topic_id",
            "A declined topic (or one whose session was cancelled) is open again.",
        ),
        _spec(
            "cop.artifact.published.v1",
            ArtifactPublished,
            _K,
            _COMMUNITY,
            "artifact_id",
            "A knowledge artifact (pattern, playbook, decision log, ...) was published.",
        ),
        _spec(
            "cop.artifact.revised.v1",
            ArtifactRevised,
            _K,
            _COMMUNITY,
            "artifact_id",
            "A new version of an artifact was published.",
        ),
        _spec(
            "cop.artifact.retired.v1",
            ArtifactRetired,
            _K,
            _COMMUNITY,
            "artifact_id",
            "An artifact was retired, possibly superseded by another.",
        ),
        _spec(
            "cop.artifact.reused.v1",
            ArtifactReused,
            _K,
            _COMMUNITY,
            "artifact_id",
            "A team reused an artifact.",
        ),
        _spec(
            "cop.kudos.given.v1",
            KudosGiven,
            _R,
            _COMMUNITY,
            "kudos_id",
            "A member recognised one or more others for a contribution.",
        ),
        _spec(
            "cop.kudos.judged.v1",
            KudosJudged,
            _R,
            _COMMUNITY,
            "kudos_id",
            "Recognition judged a kudos: for each recipient, counted or the reason it is not.",
        ),
        _spec(
            "cop.badge.awarded.v1",
            BadgeAwarded,
            _R,
            _COMMUNITY,
            "member_id",
            "A member earned a badge or milestone.",
        ),
        _spec(
            "cop.health.alert_raised.v1",
            HealthAlertRaised,
            _R,
            _COMMUNITY,
            _COMMUNITY,
            "A community health metric crossed a threshold.",
        ),
        _spec(
            "cop.health_check.opened.v1",
            HealthCheckOpened,
            _R,
            _COMMUNITY,
            "round_id",
            "A leader opened a self-assessment health-check round with its cards.",
        ),
        _spec(
            "cop.health_check.closed.v1",
            HealthCheckClosed,
            _R,
            _COMMUNITY,
            "round_id",
            "A health-check round closed, with its anonymous per-card tallies.",
        ),
        _spec(
            "cop.notification.delivered.v1",
            NotificationDelivered,
            _N,
            "member_id|channel",
            "notification_id",
            "A notification reached a member or channel.",
        ),
        _spec(
            "cop.notification.failed.v1",
            NotificationFailed,
            _N,
            "member_id|channel",
            "notification_id",
            "A notification could not be delivered.",
        ),
        _spec(
            "cop.service.owner_assigned.v1",
            ServiceOwnerAssigned,
            Topic.CICD,
            "service_id",
            "service_id",
            "A team took ownership of a service (from a time, or from now).",
        ),
    )
}

_BY_MODEL: dict[type[BaseModel], EventSpec] = {s.model: s for s in CATALOG.values()}


def spec_for(event_type: str) -> EventSpec | None:
    """The spec of a known type — the catalog's, or a CDEvents family's for any of its 0.x
    versions — or None: consumers ignore types they do not know."""
    spec = CATALOG.get(event_type)
    if spec is None and event_type.startswith(cdevents.PREFIX):
        return cdevents.spec_for(event_type)
    return spec


def spec_for_model(model: type[BaseModel]) -> EventSpec:
    try:
        return _BY_MODEL[model]
    except KeyError:
        spec = cdevents.spec_for_model(model)
        if spec is None:
            raise TypeError(f"{model.__name__} is not a catalog event") from None
        return spec
