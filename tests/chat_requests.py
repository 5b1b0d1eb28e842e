"""Chat requests as Slack, Mattermost and Teams send them, signed the way each documents it:
computed here on their own, not with the code under test."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
MATTERMOST_TOKENS = ("mm-kudos-token-0123456789", "mm-cop-token-0123456789")
TEAMS_SECRET = base64.b64encode(b"teams outgoing webhook secret 32b").decode()

Signed = tuple[bytes, dict[str, str]]


def slack(
    text: str,
    *,
    user_id: str,
    command: str = "/cop",
    team_id: str = "T0TEAM",
    channel_id: str = "C0GENERAL",
    channel_name: str = "general",
    user_name: str = "",
    response_url: str = "",
    at: float | None = None,
    secret: str = SLACK_SECRET,
) -> Signed:
    """A slash command: form-encoded, `X-Slack-Signature: v0=HMAC-SHA256(secret,
    "v0:{timestamp}:{body}")` in hex."""
    fields = {
        "token": "deprecated-verification-token",
        "team_id": team_id,
        "team_domain": "acme",
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "response_url": response_url or "https://hooks.slack.com/commands/T0TEAM/1/abc",
        "trigger_id": uuid.uuid4().hex,
    }
    body = urlencode(fields).encode()
    timestamp = str(int(at if at is not None else time.time()))
    base = b"v0:" + timestamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": signature,
    }
    return body, headers


def mattermost(
    text: str,
    *,
    user_id: str,
    command: str = "/cop",
    token: str = MATTERMOST_TOKENS[1],
    team_id: str = "mmteam",
    channel_id: str = "mmchannel",
    user_name: str = "",
    response_url: str = "",
) -> Signed:
    """A slash command: form-encoded with the command's token in it."""
    fields = {
        "channel_id": channel_id,
        "channel_name": "town-square",
        "command": command,
        "response_url": response_url or "https://mattermost.example/hooks/commands/x",
        "team_domain": "acme",
        "team_id": team_id,
        "text": text,
        "token": token,
        "trigger_id": uuid.uuid4().hex,
        "user_id": user_id,
        "user_name": user_name or user_id,
    }
    return urlencode(fields).encode(), {"content-type": "application/x-www-form-urlencoded"}


def teams(
    text: str,
    *,
    user_id: str,
    mentioned: dict[str, str] | None = None,
    tenant_id: str = "72f988bf-86f1-41af-91ab-2d7cd011db47",
    channel_id: str = "19:general@thread.tacv2",
    sent: datetime | None = None,
    secret: str = TEAMS_SECRET,
) -> Signed:
    """An outgoing-webhook activity: JSON whose text starts with the webhook's own mention,
    `Authorization: HMAC base64(HMAC-SHA256(base64decode(secret), body))`."""
    entities: list[dict[str, Any]] = [
        {
            "type": "mention",
            "text": "<at>CoP</at>",
            "mentioned": {"id": "28:cop-bot", "name": "CoP"},
        }
    ]
    for name, member_user_id in (mentioned or {}).items():
        entities.append(
            {
                "type": "mention",
                "text": f"<at>{name}</at>",
                "mentioned": {"id": member_user_id, "name": name},
            }
        )
    activity = {
        "type": "message",
        "id": uuid.uuid4().hex,
        "timestamp": (sent or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "channelId": "msteams",
        "from": {"id": f"29:{user_id}", "name": user_id, "aadObjectId": user_id},
        "conversation": {"id": f"{channel_id};messageid=1", "conversationType": "channel"},
        "text": f"<at>CoP</at>&nbsp;{text}",
        "entities": entities,
        "channelData": {
            "teamsChannelId": channel_id,
            "channel": {"id": channel_id},
            "tenant": {"id": tenant_id},
        },
    }
    body = json.dumps(activity).encode()
    digest = hmac.new(base64.b64decode(secret), body, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "authorization": "HMAC " + base64.b64encode(digest).decode(),
    }
    return body, headers


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)
