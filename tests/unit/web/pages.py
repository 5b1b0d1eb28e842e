"""What the page tests share: a community as the events service shows it, and signing in
through the site's own form."""

import re

from fastapi.testclient import TestClient

COMMUNITY = {
    "community_id": "guild",
    "name": "Platform Guild",
    "domain": "platform",
    "charter": {"purpose": "Share", "goals": [], "success_measures": []},
    "leader_id": "ada",
    "sponsor_ids": [],
    "stage": "maturing",
    "member_count": 3,
}


def csrf_token(client: TestClient) -> str:
    """The token the site's forms carry for this browser."""
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/sign-in").text)
    assert token
    return token[1]


def signed_in(client: TestClient, member: str) -> str:
    """Signs `member` in; the CSRF token for the forms that follow."""
    token = csrf_token(client)
    signed = client.post(
        "/sign-in", data={"member_id": member, "csrf_token": token}, follow_redirects=False
    )
    assert signed.status_code == 303
    return token
