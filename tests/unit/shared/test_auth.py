"""Members' bearer tokens: who they name, how long they live, and 401 for anything else."""

import time
from typing import Any

import jwt
import pytest

from shared.auth import DEFAULT_MAX_LIFETIME_S, ISSUER, issue_token, member_auth, verify
from shared.http import Problem

SECRET = "a-test-secret-of-at-least-32-characters"


def signed(**claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "iat": now, "exp": now + 600, **claims}, SECRET)


def unauthenticated(token: str, **options: Any) -> Problem:
    with pytest.raises(Problem) as refused:
        verify(SECRET, token, **options)
    assert refused.value.status == 401
    assert refused.value.type == "urn:cop:problem:auth:unauthenticated"
    return refused.value


def test_an_issued_token_names_its_member_and_scopes() -> None:
    caller = verify(SECRET, issue_token(SECRET, "ann", scopes=("admin",)))
    assert caller.member_id == "ann"
    assert caller.is_admin


@pytest.mark.parametrize("subject", ["../admin", "", " ann", "a/b", "x" * 129, "ann\n"])
def test_a_signed_token_whose_subject_is_not_a_member_id_is_unauthenticated(
    subject: str,
) -> None:
    problem = unauthenticated(signed(sub=subject))
    assert "subject" in problem.detail or "not valid" in problem.detail


def test_a_subject_that_is_not_a_string_is_unauthenticated() -> None:
    unauthenticated(signed(sub=42))


def test_a_token_that_lives_longer_than_the_maximum_is_refused() -> None:
    now = int(time.time())
    long_lived = signed(sub="ann", iat=now, exp=now + DEFAULT_MAX_LIFETIME_S + 1)
    assert "longer" in unauthenticated(long_lived).detail
    assert verify(SECRET, signed(sub="ann", iat=now, exp=now + DEFAULT_MAX_LIFETIME_S))
    short = signed(sub="ann", iat=now, exp=now + 3600)
    assert "longer" in unauthenticated(short, max_lifetime_s=600).detail


def test_a_token_without_issue_time_or_with_text_times_is_unauthenticated() -> None:
    now = int(time.time())
    no_iat = jwt.encode({"iss": ISSUER, "sub": "ann", "exp": now + 600}, SECRET)
    unauthenticated(no_iat)
    unauthenticated(signed(sub="ann", iat=str(now)))


def test_a_token_issued_in_the_future_is_unauthenticated() -> None:
    now = int(time.time())
    unauthenticated(signed(sub="ann", iat=now + 3600, exp=now + 7200))


def test_a_scope_that_is_not_a_string_is_unauthenticated() -> None:
    unauthenticated(signed(sub="ann", scope=["admin"]))


def test_expired_wrongly_signed_or_foreign_tokens_are_unauthenticated() -> None:
    assert "expired" in unauthenticated(issue_token(SECRET, "ann", ttl_s=-120)).detail
    unauthenticated(issue_token("another-secret-of-at-least-32-chars!", "ann"))
    unauthenticated(jwt.encode({"sub": "ann", "iss": "elsewhere", "iat": 1, "exp": 2}, SECRET))


def test_no_token_is_issued_for_longer_than_the_maximum_or_for_a_non_member_id() -> None:
    with pytest.raises(ValueError, match="at most"):
        issue_token(SECRET, "ann", ttl_s=DEFAULT_MAX_LIFETIME_S + 1)
    with pytest.raises(ValueError, match="at most"):
        issue_token(SECRET, "ann", ttl_s=3601, max_lifetime_s=3600)
    with pytest.raises(ValueError, match="not a member id"):
        issue_token(SECRET, "../admin")
    issue_token(SECRET, "ann", ttl_s=DEFAULT_MAX_LIFETIME_S)


async def test_the_dependency_checks_the_configured_maximum_lifetime() -> None:
    authenticate = member_auth(SECRET, max_lifetime_s=600)
    assert (
        await authenticate(f"Bearer {issue_token(SECRET, 'ann', ttl_s=600)}")
    ).member_id == "ann"
    with pytest.raises(Problem) as refused:
        await authenticate(f"Bearer {issue_token(SECRET, 'ann', ttl_s=601)}")
    assert refused.value.status == 401
    with pytest.raises(Problem):
        await authenticate(None)
