"""The chat command language: what each platform's text becomes, and the short answers for
text that is no command."""

import pytest

from services.web.domain.chat import (
    MAX_TEXT,
    GiveKudos,
    Help,
    Join,
    Link,
    ListSessions,
    MapChannel,
    Mention,
    Search,
    SetLevel,
    ShowHealth,
    ShowMe,
    Unusable,
    mentions,
    parse,
)


def test_a_slack_kudos_with_escaped_mentions_a_value_tag_and_a_community() -> None:
    command = parse(
        "<@U01GRACE|grace> <@U02ALAN> thanks for pairing on the flaky test #Collaboration"
        " in:platform",
        kudos=True,
    )
    assert command == GiveKudos(
        recipients=(Mention("grace", "U01GRACE"), Mention("U02ALAN", "U02ALAN")),
        message="thanks for pairing on the flaky test #Collaboration",
        value_tag="collaboration",
        community="platform",
    )


def test_plain_and_teams_mentions_and_an_email_address_that_is_not_one() -> None:
    found = mentions("@grace and <at>Alan Turing</at>, cc alan@example.com, @grace again")
    assert found == (Mention("grace"), Mention("Alan Turing"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("help", Help()),
        ("sessions", ListSessions(None)),
        ("sessions platform", ListSessions("platform")),
        ("Search contract testing", Search("contract testing")),
        ("health in:platform", ShowHealth("platform")),
        ("join platform", Join("platform")),
        ("watch platform", SetLevel("watching", "platform")),
        ("digest platform", SetLevel("digest", "platform")),
        ("mute platform", SetLevel("muted", "platform")),
        ("me", ShowMe()),
        ("link", Link()),
        ("channel platform", MapChannel("platform")),
    ],
)
def test_each_cop_command(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_kudos_through_cop_is_the_same_as_the_kudos_command() -> None:
    assert parse("kudos @grace thanks #teamwork") == parse("@grace thanks #teamwork", kudos=True)


@pytest.mark.parametrize(
    ("text", "kudos", "says"),
    [
        ("dance", False, "`dance` is not a command"),
        ("search", False, "Say what to look for"),
        ("thanks for everything #teamwork", True, "Name who the kudos is for"),
        ("@grace", True, "Say what the kudos is for"),
        ("x" * (MAX_TEXT + 1), True, "a command takes at most"),
        ("`<@evil>`*", False, "is not a command"),
    ],
)
def test_text_that_is_no_command_gets_a_short_answer(text: str, kudos: bool, says: str) -> None:
    command = parse(text, kudos=kudos)
    assert isinstance(command, Unusable)
    assert says in command.reason
    assert len(command.reason) < 120


def test_ten_thousand_characters_are_refused_before_anything_is_parsed() -> None:
    command = parse("@grace " + "a" * 10_000 + " #teamwork", kudos=True)
    assert isinstance(command, Unusable)
    assert "10,017" in command.reason


def test_a_kudos_without_a_hashtag_has_no_value_tag() -> None:
    command = parse("@grace thanks for the review", kudos=True)
    assert isinstance(command, GiveKudos)
    assert command.value_tag is None
