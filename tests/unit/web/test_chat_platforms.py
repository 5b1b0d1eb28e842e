"""Each platform's request check and payload: a request signed as the platform documents it
passes and decodes to the same command; a forged, altered or stale one is refused."""

import time
from collections.abc import Callable

import pytest

from services.web.adapters.chat_platforms import (
    ChatAnswer,
    ChatPlatform,
    Mattermost,
    NotVerified,
    Slack,
    Teams,
    slack_text,
)
from tests.chat_requests import (
    MATTERMOST_TOKENS,
    SLACK_SECRET,
    TEAMS_SECRET,
    Signed,
    mattermost,
    minutes_ago,
    slack,
    teams,
)

SLACK = Slack(SLACK_SECRET)
MATTERMOST = Mattermost(MATTERMOST_TOKENS)
TEAMS = Teams(TEAMS_SECRET)


def test_a_signed_slack_command_decodes() -> None:
    body, headers = slack("sessions platform", user_id="U1", user_name="grace")
    asked = SLACK.verify(body, headers)
    assert (asked.platform, asked.workspace_id, asked.user_id, asked.user_name) == (
        ChatPlatform.SLACK, "T0TEAM", "U1", "grace",
    )  # fmt: skip
    assert (asked.command, asked.text, asked.channel_id) == (
        "cop",
        "sessions platform",
        "C0GENERAL",
    )
    assert asked.proof == headers["x-slack-signature"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda b, h: (b + b"&text=more", h), "forged"),
        (lambda b, h: (b, {**h, "x-slack-signature": "v0=" + "0" * 64}), "forged"),
        (lambda b, h: (b, {k: v for k, v in h.items() if k != "x-slack-signature"}), "forged"),
        (lambda b, h: (b, {**h, "x-slack-request-timestamp": "soon"}), "forged"),
    ],
)
def test_an_altered_slack_request_is_refused(
    change: Callable[[bytes, dict[str, str]], Signed], reason: str
) -> None:
    body, headers = change(*slack("me", user_id="U1"))
    with pytest.raises(NotVerified) as refused:
        SLACK.verify(body, headers)
    assert refused.value.reason == reason


def test_a_slack_request_older_than_five_minutes_is_stale_even_when_signed() -> None:
    body, headers = slack("me", user_id="U1", at=time.time() - 301)
    with pytest.raises(NotVerified) as refused:
        SLACK.verify(body, headers)
    assert refused.value.reason == "stale"


def test_mattermost_checks_the_command_token() -> None:
    body, headers = mattermost("join platform", user_id="mm1", token=MATTERMOST_TOKENS[0])
    assert MATTERMOST.verify(body, headers).text == "join platform"
    body, headers = mattermost("join platform", user_id="mm1", token="guessed")
    with pytest.raises(NotVerified):
        MATTERMOST.verify(body, headers)


def test_a_signed_teams_activity_decodes_without_the_webhook_mention() -> None:
    body, headers = teams(
        "kudos <at>Grace Hopper</at> thanks #teamwork", user_id="aad-1",
        mentioned={"Grace Hopper": "29:grace"},
    )  # fmt: skip
    asked = TEAMS.verify(body, headers)
    assert asked.command == "kudos"
    assert asked.text == "<at>Grace Hopper</at> thanks #teamwork"
    assert asked.mention_ids["Grace Hopper"] == "29:grace"
    assert (asked.user_id, asked.channel_id) == ("aad-1", "19:general@thread.tacv2")


def test_teams_refuses_another_secret_and_old_activities() -> None:
    body, headers = teams("me", user_id="aad-1", secret="b3RoZXIgc2VjcmV0")
    with pytest.raises(NotVerified):
        TEAMS.verify(body, headers)
    body, headers = teams("me", user_id="aad-1", sent=minutes_ago(6))
    with pytest.raises(NotVerified) as refused:
        TEAMS.verify(body, headers)
    assert refused.value.reason == "stale"


def test_answers_in_each_platforms_payload() -> None:
    answer = ChatAnswer("**Top** [Pact & friends](https://cop.example/a/1) <b>")
    assert Slack.payload(answer) == {
        "response_type": "ephemeral",
        "text": "*Top* <https://cop.example/a/1|Pact &amp; friends> &lt;b&gt;",
    }
    assert Mattermost.payload(answer, public=True)["response_type"] == "in_channel"
    assert Teams.payload(answer) == {"type": "message", "text": answer.text}
    assert slack_text(ChatAnswer("a < b")) == "a &lt; b"
