"""In-memory stand-ins for what the events commands read and publish to, so that a command's
path (load the state, let the domain decide, publish) is tested in milliseconds. The
integration tests prove the same commands against Kafka and the projection."""

from dataclasses import dataclass, field

from pydantic import BaseModel

from services.events.domain.chat import ChatAccount, ChatLink
from services.events.domain.community import CommunityState
from services.events.domain.session import ActionItemState, SessionState
from services.events.domain.topic import TopicState
from shared.events.envelope import CloudEvent, new_event


@dataclass
class RecordingBus:
    """Keeps every event a command emits, in order."""

    events: list[CloudEvent] = field(default_factory=list)

    async def emit(self, data: BaseModel, *, source: str) -> CloudEvent:
        event = new_event(data, source=source)
        self.events.append(event)
        return event


@dataclass
class States:
    """The states commands decide on, as the projection would answer them."""

    communities: dict[str, CommunityState] = field(default_factory=dict)
    sessions: dict[str, SessionState] = field(default_factory=dict)
    action_items: dict[str, ActionItemState] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    chat_links: dict[ChatAccount, ChatLink] = field(default_factory=dict)
    topics: dict[str, TopicState] = field(default_factory=dict)
    ballots: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)

    async def was_applied(self, event_id: str) -> bool:
        return event_id in self.applied

    async def community_state(self, community_id: str) -> CommunityState | None:
        return self.communities.get(community_id)

    async def session_state(self, session_id: str) -> SessionState | None:
        return self.sessions.get(session_id)

    async def action_item_state(self, action_item_id: str) -> ActionItemState | None:
        return self.action_items.get(action_item_id)

    async def member_known(self, member_id: str) -> bool:
        return member_id in self.members

    async def chat_link(self, account: ChatAccount) -> ChatLink | None:
        return self.chat_links.get(account)

    async def topic_state(self, topic_id: str) -> TopicState | None:
        return self.topics.get(topic_id)

    async def active_votes(self, community_id: str, member_id: str) -> frozenset[str]:
        return self.ballots.get((community_id, member_id), frozenset())
