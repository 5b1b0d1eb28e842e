"""`copctl token`: a member's token as the services check it, with the audience they require."""

import pytest
from typer.testing import CliRunner

from copctl.cli import app
from shared.auth import verify
from shared.http import Problem
from shared.settings import LOCAL_AUTH_TOKEN_SECRET


def test_copctl_token_has_no_audience_unless_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_TOKEN_AUDIENCE", raising=False)
    result = CliRunner().invoke(app, ["token", "ada"])
    assert result.exit_code == 0, result.output
    caller = verify(LOCAL_AUTH_TOKEN_SECRET, result.stdout.strip())
    assert caller.member_id == "ada"


def test_copctl_token_carries_the_audience_of_auth_token_audience(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_TOKEN_AUDIENCE", "cop-api")
    result = CliRunner().invoke(app, ["token", "ada"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert verify(LOCAL_AUTH_TOKEN_SECRET, token, audience="cop-api").member_id == "ada"
    with pytest.raises(Problem, match="another audience"):
        verify(LOCAL_AUTH_TOKEN_SECRET, token, audience="another-api")
