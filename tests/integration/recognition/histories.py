"""A community's history as CloudEvents with chosen times, built once for the service (sent
to Kafka or through `POST /ingest`) and for `health_reference`, which computes the expected
numbers from docs/recognition.md's definitions without the service's code."""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from shared.events.catalog import (
    ActionItemClosed,
    ActionItemOpened,
    ArtifactKind,
    ArtifactPublished,
    ArtifactReused,
    ArtifactRevised,
    CommunityCreated,
    FeedbackSubmitted,
    KudosGiven,
    MemberJoined,
    MemberLeft,
    MemberProfileUpdated,
    SessionFormat,
    SessionHeld,
)
from shared.events.envelope import CloudEvent, new_event
from tests.integration.recognition import health_reference as reference
from tests.integration.recognition.health_reference import Fact


def at(text: str) -> datetime:
    """'2026-01-14 18:00' in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def last_ended_month() -> str:
    return reference.previous(reference.month_of(datetime.now(UTC)))


class History:
    """The events of one community (and a few elsewhere), with the times they carry."""

    def __init__(self, suffix: str, community: str = "guild") -> None:
        self.suffix = suffix
        self.community_id = self.id(community)
        self.events: list[CloudEvent] = []

    def id(self, name: str) -> str:
        """Ids carry the test's suffix: Redis (allowances, leaderboards) is shared by all tests."""
        return f"{name}-{self.suffix}"

    def ids(self, names: Iterable[str]) -> list[str]:
        return [self.id(n) for n in names]

    def add(self, when: str, data: BaseModel) -> None:
        self.events.append(new_event(data, source="test/health", time=at(when)))

    def in_order(self) -> list[CloudEvent]:
        return sorted(self.events, key=lambda e: e.time)

    @property
    def facts(self) -> list[Fact]:
        return [Fact(e.type, e.time, e.data) for e in self.in_order()]

    def health(self, key: str) -> reference.Metrics:
        return reference.health(self.facts, self.community_id, key)

    def alerts(self) -> list[tuple[str, str]]:
        keys = reference.months("2026-01", last_ended_month())
        return reference.alerts(self.facts, self.community_id, keys)

    def ambiguities(self, keys: Sequence[str]) -> list[str]:
        return reference.ambiguities(self.facts, self.community_id, keys)

    # -- one method per kind of fact; members are named without the suffix --

    def created(self, when: str, leader: str) -> None:
        self.add(
            when,
            CommunityCreated(
                community_id=self.community_id, name=f"Guild {self.suffix}",
                domain="software delivery", charter={"purpose": "Learn from each other"},
                leader_id=self.id(leader),
            ),
        )  # fmt: skip

    def profile(self, when: str, name: str, team: str) -> None:
        self.add(
            when,
            MemberProfileUpdated(
                member_id=self.id(name), name=name.title(), email=f"{name}@example.com", team=team
            ),
        )

    def joined(self, when: str, *names: str) -> None:
        """Each a minute after the previous one."""
        for n, name in enumerate(names):
            moment = (at(when) + timedelta(minutes=n)).strftime("%Y-%m-%d %H:%M")
            self.add(moment, MemberJoined(community_id=self.community_id, member_id=self.id(name)))

    def left(self, when: str, name: str) -> None:
        self.add(when, MemberLeft(community_id=self.community_id, member_id=self.id(name)))

    def held(
        self,
        when: str,
        session: str,
        facilitator: str,
        speakers: Sequence[str] = (),
        attendees: Sequence[str] = (),
        *,
        held_at: str | None = None,
        community: str | None = None,
        roles_checked_in: bool = True,
    ) -> None:
        """The facilitator and speakers are among the attendee_ids unless `roles_checked_in` is
        false (then "attended" could be read two ways; the history keeps both readings equal)."""
        present = [facilitator, *speakers] if roles_checked_in else []
        self.add(
            when,
            SessionHeld(
                session_id=self.id(session), community_id=community or self.community_id,
                held_at=at(held_at or when) - timedelta(hours=1), duration_minutes=60,
                format=SessionFormat.BROWN_BAG, title=f"Session {session}",
                facilitator_id=self.id(facilitator), speaker_ids=self.ids(speakers),
                attendee_ids=self.ids([*present, *attendees]),
            ),
        )  # fmt: skip

    def feedback(
        self,
        when: str,
        session: str,
        member: str,
        rating: int,
        *,
        applied: bool = False,
        community: str | None = None,
    ) -> None:
        self.add(
            when,
            FeedbackSubmitted(
                session_id=self.id(session), community_id=community or self.community_id,
                member_id=self.id(member), rating=rating, plus="clear examples",
                applied=applied,
            ),
        )  # fmt: skip

    def action_item(self, item: str, owner: str) -> ActionItemOpened:
        return ActionItemOpened(
            action_item_id=self.id(item), community_id=self.community_id,
            title=f"Follow up {item}", owner_id=self.id(owner),
        )  # fmt: skip

    def opened(self, when: str, item: str, owner: str) -> None:
        self.add(when, self.action_item(item, owner))

    def closed(self, when: str, item: str, owner: str) -> None:
        opened = self.action_item(item, owner).model_dump(exclude={"due"})
        self.add(when, ActionItemClosed(**opened, outcome="done"))

    def published(self, when: str, artifact: str, *authors: str) -> None:
        self.add(
            when,
            ArtifactPublished(
                artifact_id=self.id(artifact), community_id=self.community_id,
                kind=ArtifactKind.PATTERN, title=f"Pattern {artifact}",
                body_markdown=f"# {artifact}", author_ids=self.ids(authors),
            ),
        )  # fmt: skip

    def revised(self, when: str, artifact: str, editor: str, version: int = 2) -> None:
        self.add(
            when,
            ArtifactRevised(
                artifact_id=self.id(artifact), community_id=self.community_id, version=version,
                editor_id=self.id(editor), change_note="clearer steps",
            ),
        )  # fmt: skip

    def reused(self, when: str, artifact: str, member: str, team: str) -> None:
        self.add(
            when,
            ArtifactReused(
                artifact_id=self.id(artifact), community_id=self.community_id,
                member_id=self.id(member), team=team, context="adopted it",
            ),
        )  # fmt: skip

    def kudos(self, when: str, giver: str, *receivers: str, community: str | None = None) -> None:
        self.add(
            when,
            KudosGiven(
                kudos_id=self.id(f"k{len(self.events)}"),
                community_id=community or self.community_id, from_id=self.id(giver),
                to_ids=self.ids(receivers), message="thank you", value_tag="helpfulness",
            ),
        )  # fmt: skip
