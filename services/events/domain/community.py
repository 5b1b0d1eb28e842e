"""Community rules: one leader at a time, stages that move sensibly, voluntary membership."""

from dataclasses import dataclass, field

from services.events.domain.errors import NotFound, Refused
from shared.events.catalog import Role, Stage

# Wenger's stages of a community of practice. A community moves forward one stage at a time;
# one in stewardship may fall back to maturing to renew itself; transformation is the end.
STAGE_TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    Stage.POTENTIAL: frozenset({Stage.COALESCING}),
    Stage.COALESCING: frozenset({Stage.MATURING, Stage.POTENTIAL}),
    Stage.MATURING: frozenset({Stage.STEWARDSHIP}),
    Stage.STEWARDSHIP: frozenset({Stage.TRANSFORMATION, Stage.MATURING}),
    Stage.TRANSFORMATION: frozenset(),
}


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


def check_stage_change(state: CommunityState, new: Stage) -> None:
    if new == state.stage:
        return
    if new not in STAGE_TRANSITIONS[state.stage]:
        allowed = ", ".join(sorted(STAGE_TRANSITIONS[state.stage])) or "none"
        raise Refused(
            "invalid_stage_transition",
            f"a community cannot move from {state.stage} to {new} (allowed: {allowed})",
        )


def check_leader_change(state: CommunityState, new_leader: str) -> None:
    if new_leader == state.leader_id:
        raise Refused("same_leader", f"{new_leader} already leads {state.community_id}")


def check_join(state: CommunityState, member_id: str) -> None:
    if member_id in state.members:
        raise Refused("already_member", f"{member_id} is already a {state.members[member_id]} here")


def check_leave(state: CommunityState, member_id: str) -> Role:
    if member_id not in state.members:
        raise Refused("not_a_member", f"{member_id} is not a member of {state.community_id}")
    if member_id == state.leader_id:
        raise Refused("leader_cannot_leave", "hand the leadership to someone else before leaving")
    return state.members[member_id]
