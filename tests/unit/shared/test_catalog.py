"""The v1 catalog as docs/architecture.md#topics-keys-and-the-catalog describes it: the types,
their topics, keys and subjects."""

from typing import Any

import pytest
from pydantic import ValidationError

from shared.events.catalog import CATALOG, EventSpec, spec_for, spec_for_model
from shared.events.topics import Topic

# Every v1 type, spelled out so a rename or a loss shows up here.
V1_TYPES = {
    "cop.community.created.v1",
    "cop.community.updated.v1",
    "cop.community.leader_changed.v1",
    "cop.member.joined.v1",
    "cop.member.left.v1",
    "cop.member.profile_updated.v1",
    # A chat account moves between members; a chat channel between communities.
    "cop.member.chat_linked.v1",
    "cop.member.chat_unlinked.v1",
    "cop.community.chat_channel_mapped.v1",
    "cop.session.scheduled.v1",
    "cop.session.rescheduled.v1",
    "cop.session.cancelled.v1",
    "cop.session.held.v1",
    # A check-in, recorded before the session is held.
    "cop.session.attendance_recorded.v1",
    "cop.feedback.submitted.v1",
    "cop.action_item.opened.v1",
    "cop.action_item.closed.v1",
    # The backlog: topics proposed, voted for, then scheduled (a session), declined or merged.
    "cop.topic.proposed.v1",
    "cop.topic.voted.v1",
    "cop.topic.unvoted.v1",
    "cop.topic.declined.v1",
    "cop.topic.merged.v1",
    "cop.topic.reopened.v1",
    "cop.artifact.published.v1",
    "cop.artifact.revised.v1",
    "cop.artifact.retired.v1",
    "cop.artifact.reused.v1",
    "cop.kudos.given.v1",
    # Recognition's decision on each kudos, so that a replay derives the same counts.
    "cop.kudos.judged.v1",
    "cop.badge.awarded.v1",
    "cop.health.alert_raised.v1",
    # A health-check round: its answers travel only as the closing event's anonymous tallies.
    "cop.health_check.opened.v1",
    "cop.health_check.closed.v1",
    "cop.notification.delivered.v1",
    "cop.notification.failed.v1",
    # Who owns a service, beside the CI/CD facts (CDEvents) on cop.cicd.
    "cop.service.owner_assigned.v1",
}

# The topic of each event family.
FAMILY_TOPIC = {
    "community": "cop.communities",
    "member": "cop.communities",
    "session": "cop.sessions",
    "feedback": "cop.sessions",
    "action_item": "cop.sessions",
    "topic": "cop.sessions",
    "artifact": "cop.knowledge",
    "kudos": "cop.recognition",
    "badge": "cop.recognition",
    "health": "cop.recognition",
    "health_check": "cop.recognition",
    "notification": "cop.notifications",
    "service": "cop.cicd",
}

# One valid `data` per type: proves each model accepts what the catalog describes.
EXAMPLES: dict[str, dict[str, Any]] = {
    "cop.community.created.v1": {
        "community_id": "c1",
        "name": "Testing CoP",
        "domain": "quality",
        "charter": {"purpose": "Share testing practice", "goals": ["fewer flaky tests"]},
        "leader_id": "m1",
        "sponsor_ids": ["m9"],
        "stage": "coalescing",
    },
    "cop.community.updated.v1": {
        "community_id": "c1",
        "stage": "maturing",
        "charter": {
            "purpose": "Share testing practice",
            "vision": "Every team ships with confidence",
            "impact": "release managers, on-call engineers",
            "forces_for": ["a sponsor in engineering management"],
            "forces_against": ["release pressure"],
            "health_goals": [
                {"metric": "participation_rate", "comparison": ">=", "target": 0.6},
                {"metric": "facilitators_last6", "comparison": ">=", "target": 3},
            ],
        },
        "updated_by": "m1",
    },
    "cop.community.leader_changed.v1": {
        "community_id": "c1",
        "leader_id": "m2",
        "previous_leader_id": "m1",
    },
    "cop.member.joined.v1": {"community_id": "c1", "member_id": "m2", "role": "core"},
    "cop.member.left.v1": {"community_id": "c1", "member_id": "m2"},
    "cop.member.profile_updated.v1": {
        "member_id": "m2",
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "team": "compilers",
        "chat_handle": "@grace",
        "timezone": "America/New_York",
    },
    "cop.member.chat_linked.v1": {
        "member_id": "m2",
        "platform": "teams",
        "workspace_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "user_id": "29:1jldJ2nGrV5tqX_kN1GJTRO6sbN6gW0ERw-0H9Y8zWXm9KnEoh8",
        "user_name": "Grace Hopper",
    },
    "cop.member.chat_unlinked.v1": {
        "member_id": "m2",
        "platform": "slack",
        "workspace_id": "T0123ABC",
        "user_id": "U012AB3CD",
    },
    "cop.community.chat_channel_mapped.v1": {
        "community_id": "c1",
        "platform": "teams",
        "workspace_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "channel_id": "19:abc@thread.tacv2",
        "channel_name": "Testing CoP",
        "mapped_by": "m1",
    },
    "cop.session.scheduled.v1": {
        "session_id": "s1",
        "community_id": "c1",
        "title": "Mutation testing",
        "format": "lunch_and_learn",
        "starts_at": "2026-11-25T12:00:00Z",
        "duration_minutes": 60,
        "location": "Room 4",
        "facilitator_id": "m1",
        "speaker_ids": ["m2"],
        "agenda": ["intro", "demo"],
        "tags": ["testing"],
    },
    "cop.session.rescheduled.v1": {
        "session_id": "s1",
        "community_id": "c1",
        "starts_at": "2026-11-26T12:00:00+01:00",
    },
    "cop.session.cancelled.v1": {"session_id": "s1", "community_id": "c1", "reason": "sick"},
    "cop.session.attendance_recorded.v1": {
        "session_id": "s1",
        "community_id": "c1",
        "member_id": "m2",
        "checked_in_at": "2026-11-26T10:58:00Z",
    },
    "cop.session.held.v1": {
        "session_id": "s1",
        "community_id": "c1",
        "held_at": "2026-11-26T11:00:00Z",
        "duration_minutes": 55,
        "format": "lunch_and_learn",
        "title": "Mutation testing",
        "facilitator_id": "m1",
        "attendee_ids": ["m2", "m3"],
        "recording_url": "https://video.example.com/s1",
        "topic_id": "t1",
        "topic_proposed_by": "m3",
    },
    "cop.feedback.submitted.v1": {
        "session_id": "s1",
        "community_id": "c1",
        "member_id": "m3",
        "rating": 5,
        "applied": True,
    },
    "cop.action_item.opened.v1": {
        "action_item_id": "a1",
        "community_id": "c1",
        "session_id": "s1",
        "title": "Try mutmut on the billing service",
        "owner_id": "m3",
        "due": "2026-12-15T00:00:00Z",
    },
    "cop.action_item.closed.v1": {
        "action_item_id": "a1",
        "community_id": "c1",
        "title": "Try mutmut on the billing service",
        "owner_id": "m3",
        "outcome": "Found 12 surviving mutants",
    },
    "cop.topic.proposed.v1": {
        "topic_id": "t1",
        "community_id": "c1",
        "title": "Property-based testing",
        "description": "Hypothesis on our parsers",
        "speaker_ids": ["m2"],
        "tags": ["testing"],
        "proposed_by": "m3",
    },
    "cop.topic.voted.v1": {"topic_id": "t1", "community_id": "c1", "member_id": "m4"},
    "cop.topic.unvoted.v1": {"topic_id": "t1", "community_id": "c1", "member_id": "m4"},
    "cop.topic.declined.v1": {
        "topic_id": "t1",
        "community_id": "c1",
        "reason": "covered last quarter",
        "declined_by": "m1",
    },
    "cop.topic.merged.v1": {
        "topic_id": "t2",
        "community_id": "c1",
        "into_topic_id": "t1",
        "merged_by": "m1",
    },
    "cop.topic.reopened.v1": {"topic_id": "t1", "community_id": "c1", "reopened_by": "m1"},
    "cop.artifact.published.v1": {
        "artifact_id": "art1",
        "community_id": "c1",
        "kind": "playbook",
        "title": "Mutation testing playbook",
        "body_markdown": "# Steps",
        "author_ids": ["m1"],
        "tags": ["testing"],
    },
    "cop.artifact.revised.v1": {
        "artifact_id": "art1",
        "community_id": "c1",
        "version": 2,
        "editor_id": "m2",
        "change_note": "added CI step",
    },
    "cop.artifact.retired.v1": {
        "artifact_id": "art1",
        "community_id": "c1",
        "version": 2,
        "editor_id": "m2",
        "reason": "superseded",
        "superseded_by": "art2",
    },
    "cop.artifact.reused.v1": {
        "artifact_id": "art1",
        "community_id": "c1",
        "member_id": "m4",
        "team": "payments",
    },
    "cop.kudos.given.v1": {
        "kudos_id": "k1",
        "from_id": "m1",
        "to_ids": ["m2", "m3"],
        "community_id": "c1",
        "message": "Great demo",
        "value_tag": "knowledge_sharing",
        "session_id": "s1",
    },
    "cop.kudos.judged.v1": {
        "kudos_id": "k1",
        "community_id": "c1",
        "from_id": "m1",
        "message": "Great demo",
        "value_tag": "knowledge_sharing",
        "period": "2026-11",
        "recipients": [
            {"member_id": "m2", "verdict": "counted"},
            {"member_id": "m1", "verdict": "self_kudos"},
        ],
    },
    "cop.badge.awarded.v1": {"member_id": "m2", "badge": "first_talk", "community_id": "c1"},
    "cop.health.alert_raised.v1": {
        "community_id": "c1",
        "alert": "stagnation",
        "period": "2026-11",
        "details": {"sessions": 0},
    },
    "cop.health_check.opened.v1": {
        "round_id": "8f14e45fceea167a5a36dedd4bea2543",
        "community_id": "c1",
        "template": "cop-health",
        "cards": [{"card_id": "help", "title": "Help", "green": "We help", "red": "Alone"}],
        "closes_at": "2026-12-14T17:00:00Z",
        "min_respondents": 3,
        "opened_by": "m1",
    },
    "cop.health_check.closed.v1": {
        "round_id": "8f14e45fceea167a5a36dedd4bea2543",
        "community_id": "c1",
        "template": "cop-health",
        "respondents": 4,
        "members": 9,
        "min_respondents": 3,
        "tallies": [
            {"card_id": "help", "green": 2, "amber": 1, "red": 1, "up": 1, "comments": ["ok"]}
        ],
    },
    "cop.notification.delivered.v1": {
        "notification_id": "n1",
        "member_id": "m2",
        "channel_kind": "email",
        "cause_event_id": "e1",
    },
    "cop.notification.failed.v1": {
        "notification_id": "n2",
        "channel": "#cop-testing",
        "channel_kind": "slack",
        "cause_event_id": "e1",
        "attempt": 3,
        "error": "HTTP 500",
    },
    "cop.service.owner_assigned.v1": {
        "service_id": "service/payments-api",
        "team": "payments",
        "since": "2026-01-01T00:00:00Z",
        "assigned_by": "ops",
    },
}

SPECS = sorted(CATALOG.values(), key=lambda s: s.type)


def _id(spec: EventSpec) -> str:
    return spec.type


def test_catalog_holds_exactly_the_v1_types() -> None:
    assert set(CATALOG) == V1_TYPES


def test_catalog_is_indexed_by_each_spec_type() -> None:
    assert all(key == spec.type for key, spec in CATALOG.items())


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_type_is_versioned_v1_under_the_cop_prefix(spec: EventSpec) -> None:
    assert spec.type.startswith("cop.")
    assert spec.type.endswith(".v1")
    assert len(spec.type.split(".")) == 4


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_topic_is_the_one_of_the_event_family(spec: EventSpec) -> None:
    family = spec.type.split(".")[1]

    assert str(spec.topic) == FAMILY_TOPIC[family]


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_key_and_subject_fields_exist_in_the_model(spec: EventSpec) -> None:
    fields = spec.model.model_fields

    assert spec.key_fields
    assert set(spec.key_fields) <= set(fields)
    assert spec.subject_field in fields


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_subject_field_is_required_so_the_subject_is_never_none(spec: EventSpec) -> None:
    assert spec.model.model_fields[spec.subject_field].is_required()


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_community_scoped_events_are_keyed_by_community(spec: EventSpec) -> None:
    fields = spec.model.model_fields
    if "community_id" in fields and fields["community_id"].is_required():
        assert spec.key_fields == ("community_id",)
    else:
        assert "community_id" not in spec.key_fields


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_example_data_validates_and_yields_key_and_subject(spec: EventSpec) -> None:
    example = EXAMPLES[spec.type]

    data = spec.model.model_validate(example).model_dump(mode="json")

    assert spec.key(data) == str(next(data[f] for f in spec.key_fields if data.get(f)))
    prefix = spec.subject_field.removesuffix("_id")
    assert spec.subject(data) == f"{prefix}/{example[spec.subject_field]}"


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_data_refuses_unknown_fields(spec: EventSpec) -> None:
    with pytest.raises(ValidationError, match="extra_field_typo"):
        spec.model.model_validate({**EXAMPLES[spec.type], "extra_field_typo": 1})


def test_key_falls_back_to_the_next_key_field_and_fails_without_any() -> None:
    spec = CATALOG["cop.notification.delivered.v1"]

    assert spec.key({"member_id": None, "channel": "#cop"}) == "#cop"
    assert spec.key({"member_id": "m1", "channel": "#cop"}) == "m1"
    with pytest.raises(ValueError, match="carries none of"):
        spec.key({"notification_id": "n1"})


def test_member_profile_is_keyed_by_member_and_lives_on_the_communities_topic() -> None:
    spec = CATALOG["cop.member.profile_updated.v1"]

    assert spec.key_fields == ("member_id",)
    assert spec.topic is Topic.COMMUNITIES


def test_spec_for_returns_none_for_unknown_and_the_spec_for_known_types() -> None:
    assert spec_for("cop.kudos.given.v2") is None
    assert spec_for("") is None
    assert spec_for("cop.kudos.given.v1") is CATALOG["cop.kudos.given.v1"]


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_spec_for_model_finds_each_model_spec(spec: EventSpec) -> None:
    assert spec_for_model(spec.model) is spec


def test_each_model_belongs_to_exactly_one_type() -> None:
    models = [spec.model for spec in CATALOG.values()]

    assert len(set(models)) == len(models)


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_every_spec_has_a_summary_for_the_docs(spec: EventSpec) -> None:
    assert spec.summary.strip()
