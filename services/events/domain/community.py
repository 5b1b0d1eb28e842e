"""Community rules: who stewards a community, one leader at a time, stages that move sensibly,
voluntary membership. Each command's rule decides and returns the event it produces."""

from dataclasses import dataclass, field

from services.events.domain.actor import Actor, require_self
from services.events.domain.chat import ChatChannelRef
from shared.events.catalog import (
    Charter,
    CommunityChatChannelMapped,
    CommunityCreated,
    CommunityLeaderChanged,
    CommunityUpdated,
    MemberJoined,
    MemberLeft,
    Role,
    Stage,
)
from shared.refusals import Forbidden, NotFound, Refused

# Wenger's stages of a community of practice. A community moves forward one stage at a time;
# one in stewardship may fall back to maturing to renew itself; transformation is the end.
STAGE_TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    Stage.POTENTIAL: frozenset({Stage.COALESCING}),
    Stage.COALESCING: frozenset({Stage.MATURING, Stage.POTENTIAL}),
    Stage.MATURING: frozenset({Stage.STEWARDSHIP}),
    Stage.STEWARDSHIP: frozenset({Stage.TRANSFORMATION, Stage.MATURING}),
    Stage.TRANSFORMATION: frozenset(),
}
# Roles a member may take by joining on their own; core and sponsor are given by the stewards.
SELF_SERVICE_ROLES = frozenset({Role.MEMBER, Role.MENTOR})
NOT_STEWARD = "not_leader_or_core"
NOT_LEADER = "not_leader_or_admin"


@dataclass(frozen=True)
class CommunityState:
    community_id: str
    leader_id: str
    stage: Stage
    members: dict[str, Role] = field(default_factory=dict)


def require(state: CommunityState | None, community_id: str) -> CommunityState:
    if state is None:
        raise NotFound("community_not_found", f"no community {community_id}")
    return state


def is_steward(state: CommunityState | None, actor: Actor) -> bool:
    """The community's leader, its core members and admins steward it."""
    if actor.is_admin:
        return True
    if state is None:  # a session or item of a community not (yet) known here
        return False
    return actor.same_as(state.leader_id) or state.members.get(actor.member_id) is Role.CORE


def require_steward(state: CommunityState, actor: Actor, action: str) -> None:
    if not is_steward(state, actor):
        raise Forbidden(
            NOT_STEWARD,
            f"only the leader, a core member or an admin of {state.community_id} may {action}",
        )


def create(existing: CommunityState | None, data: CommunityCreated) -> CommunityCreated:
    """Any member may found a community, naming its leader."""
    if existing is not None:
        raise Refused("community_exists", f"community {data.community_id} already exists")
    return data


def check_stage_change(state: CommunityState, new: Stage) -> None:
    if new == state.stage:
        return
    if new not in STAGE_TRANSITIONS[state.stage]:
        allowed = ", ".join(sorted(STAGE_TRANSITIONS[state.stage])) or "none"
        raise Refused(
            "invalid_stage_transition",
            f"a community cannot move from {state.stage} to {new} (allowed: {allowed})",
        )


def update(
    state: CommunityState,
    actor: Actor,
    *,
    name: str | None = None,
    charter: Charter | None = None,
    stage: Stage | None = None,
) -> CommunityUpdated:
    """Stewards change the name and the stage; the charter, with its vision canvas and its
    goals, is the leader's (or an admin's): one leader answers for the community's vision."""
    require_steward(state, actor, "change its name, charter or stage")
    if charter is not None:
        require_leader(state, actor, "change its charter")
    if name is None and charter is None and stage is None:
        raise Refused("nothing_to_change", "give at least one of name, charter, stage")
    if stage is not None:
        check_stage_change(state, stage)
    return CommunityUpdated(
        community_id=state.community_id,
        name=name,
        charter=charter,
        stage=stage,
        updated_by=actor.member_id,
    )


def require_leader(state: CommunityState, actor: Actor, action: str) -> None:
    if not (actor.is_admin or actor.same_as(state.leader_id)):
        raise Forbidden(
            NOT_LEADER, f"only the leader of {state.community_id} or an admin may {action}"
        )


def change_leader(state: CommunityState, new_leader: str, actor: Actor) -> CommunityLeaderChanged:
    require_steward(state, actor, "hand its leadership to someone else")
    if new_leader == state.leader_id:
        raise Refused("same_leader", f"{new_leader} already leads {state.community_id}")
    return CommunityLeaderChanged(
        community_id=state.community_id, leader_id=new_leader, previous_leader_id=state.leader_id
    )


def join(state: CommunityState, member_id: str, role: Role, actor: Actor) -> MemberJoined:
    """A member joins in their own name as a member or mentor; stewards may add anyone as
    anything (a core member or a sponsor is always added by a steward)."""
    if not is_steward(state, actor):
        require_self(actor, member_id, "join")
        if role not in SELF_SERVICE_ROLES:
            raise Forbidden(
                NOT_STEWARD,
                f"the {role} role in {state.community_id} is given by its leader, "
                "a core member or an admin",
            )
    if member_id in state.members:
        raise Refused("already_member", f"{member_id} is already a {state.members[member_id]} here")
    return MemberJoined(community_id=state.community_id, member_id=member_id, role=role)


def leave(state: CommunityState, member_id: str, actor: Actor) -> MemberLeft:
    require_self(actor, member_id, "leave")
    if member_id not in state.members:
        raise Refused("not_a_member", f"{member_id} is not a member of {state.community_id}")
    if member_id == state.leader_id:
        raise Refused("leader_cannot_leave", "hand the leadership to someone else before leaving")
    return MemberLeft(
        community_id=state.community_id, member_id=member_id, role=state.members[member_id]
    )


def map_chat_channel(
    state: CommunityState,
    actor: Actor,
    *,
    channel: ChatChannelRef,
    channel_name: str | None = None,
) -> CommunityChatChannelMapped:
    """The leader (or an admin) maps a chat channel to the community; a channel mapped to
    another community before moves here."""
    if not (actor.is_admin or actor.same_as(state.leader_id)):
        raise Forbidden(
            NOT_LEADER, f"only the leader of {state.community_id} or an admin may map a channel"
        )
    return CommunityChatChannelMapped(
        community_id=state.community_id,
        platform=channel.platform,
        workspace_id=channel.workspace_id,
        channel_id=channel.channel_id,
        channel_name=channel_name,
        mapped_by=actor.member_id,
    )
