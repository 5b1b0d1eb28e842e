"""Chat accounts and channels without Kafka or a database: who may link, unlink and map, and who
holds an account or a channel whatever order its claims arrive in."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from services.events.commands.members import EventsCommands
from services.events.domain.actor import Actor
from services.events.domain.chat import (
    ChannelMapping,
    ChatAccount,
    ChatChannelRef,
    ChatLink,
    Claim,
    chat_key,
    current_mapping,
    holder,
    newest_named,
)
from services.events.domain.community import CommunityState
from shared.events.catalog import ChatPlatform, MemberChatLinked, MemberChatUnlinked, Stage
from shared.refusals import Forbidden, NotFound
from tests.unit.events.fakes import RecordingBus, States

T0 = datetime(2027, 1, 4, 9, tzinfo=UTC)
ADMIN, GRACE, ALAN = Actor("ops", is_admin=True), Actor("grace"), Actor("alan")
ACCOUNT = ChatAccount(ChatPlatform.TEAMS, "tenant-1", "29:1AbC-xyz")
CHANNEL = ChatChannelRef(ChatPlatform.SLACK, "T1", "C1")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def link(member_id: str = "grace", user_name: str | None = "grace") -> MemberChatLinked:
    return MemberChatLinked(
        member_id=member_id,
        platform=ACCOUNT.platform,
        workspace_id=ACCOUNT.workspace_id,
        user_id=ACCOUNT.user_id,
        user_name=user_name,
    )


def unlink(member_id: str = "grace") -> MemberChatUnlinked:
    return MemberChatUnlinked(
        member_id=member_id,
        platform=ACCOUNT.platform,
        workspace_id=ACCOUNT.workspace_id,
        user_id=ACCOUNT.user_id,
    )


def commands(states: States) -> tuple[EventsCommands, RecordingBus]:
    bus = RecordingBus()
    return EventsCommands(bus, states), bus


# --- who holds an account, in any order ---


def test_keys_keep_platform_workspace_and_id_apart_although_teams_ids_hold_colons() -> None:
    assert chat_key(ChatPlatform.TEAMS, "a:b", "c") != chat_key(ChatPlatform.TEAMS, "a", "b:c")


def test_the_newest_link_holds_the_account_whatever_order_the_claims_arrive_in() -> None:
    claims = [
        Claim("e1", at(1), "grace", linked=True, user_name="grace"),
        Claim("e2", at(2), "alan", linked=True, user_name="alan"),
        Claim("e3", at(3), "grace", linked=False),  # grace's unlink: not hers any more
    ]
    for order in itertools.permutations(claims):
        found = holder(ACCOUNT, order)
        assert found == ChatLink(ACCOUNT, "alan", "alan", at(2))


def test_an_unlink_frees_the_account_from_the_member_it_names() -> None:
    claims = [
        Claim("e1", at(1), "grace", linked=True),
        Claim("e2", at(2), "grace", linked=False),
    ]
    assert holder(ACCOUNT, reversed(claims)) is None
    relinked = [*claims, Claim("e3", at(3), "grace", linked=True)]
    assert holder(ACCOUNT, relinked) == ChatLink(ACCOUNT, "grace", None, at(3))


def test_a_channel_maps_to_its_newest_community() -> None:
    older = ChannelMapping("e1", at(1), "c1", "general", "lea")
    newer = ChannelMapping("e2", at(2), "c2", None, "max")
    assert current_mapping([newer, older]) == newer
    assert current_mapping([]) is None


def test_a_name_finds_the_account_linked_last_under_it_case_insensitively() -> None:
    other = ChatAccount(ChatPlatform.TEAMS, "tenant-1", "29:other")
    renamed = ChatLink(ACCOUNT, "grace", "Grace.H", at(1))
    newest = ChatLink(other, "alan", "grace.h", at(2))
    assert newest_named([renamed, newest], "@GRACE.h") == newest
    assert newest_named([ChatLink(ACCOUNT, "grace", "gh", at(3))], "grace.h") is None


# --- commands: who may, and what is published ---


async def test_only_an_admin_links_a_chat_account_and_only_to_a_known_member() -> None:
    cmds, bus = commands(States(members={"grace"}))

    with pytest.raises(Forbidden) as refused:
        await cmds.link_chat(link(), GRACE)
    assert refused.value.code == "not_admin"
    with pytest.raises(NotFound) as unknown:
        await cmds.link_chat(link("nobody"), ADMIN)
    assert unknown.value.code == "member_not_found"
    assert bus.events == []

    event = await cmds.link_chat(link(), ADMIN)
    assert (event.type, event.subject) == ("cop.member.chat_linked.v1", "member/grace")


async def test_a_member_unlinks_only_their_own_account_and_only_while_they_hold_it() -> None:
    held = ChatLink(ACCOUNT, "grace", "grace", at(1))
    cmds, bus = commands(States(members={"grace"}, chat_links={ACCOUNT: held}))

    with pytest.raises(Forbidden):
        await cmds.unlink_chat(unlink(), ALAN)
    with pytest.raises(NotFound) as not_theirs:
        await cmds.unlink_chat(unlink("alan"), ALAN)
    assert not_theirs.value.code == "chat_identity_not_linked"
    assert bus.events == []

    event = await cmds.unlink_chat(unlink(), GRACE)
    assert event.type == "cop.member.chat_unlinked.v1"


async def test_only_the_leader_or_an_admin_maps_a_channel_and_the_mapper_is_recorded() -> None:
    guild = CommunityState("guild", leader_id="lena", stage=Stage.COALESCING)
    cmds, bus = commands(States(communities={"guild": guild}))

    with pytest.raises(Forbidden) as refused:
        await cmds.map_chat_channel("guild", CHANNEL, "general", GRACE)
    assert refused.value.code == "not_leader_or_admin"
    with pytest.raises(NotFound):
        await cmds.map_chat_channel("nowhere", CHANNEL, None, ADMIN)
    assert bus.events == []

    event = await cmds.map_chat_channel("guild", CHANNEL, "general", Actor("lena"))
    assert event.data == {
        "community_id": "guild",
        "platform": "slack",
        "workspace_id": "T1",
        "channel_id": "C1",
        "channel_name": "general",
        "mapped_by": "lena",
    }
