"""What a refused HTTP request looks like to a test: the problem+json answers of `shared.http`."""

from typing import Any

import httpx

from shared.body_limit import PROBLEM_TYPE as BODY_TOO_LARGE


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of `response`, once its status is checked to be `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    return problem


def fields(problem: dict[str, Any]) -> set[str]:
    """The fields a problem (or a rejection record, which has the same `errors`) names."""
    return {e["field"] for e in problem["errors"]}


def assert_body_too_large(response: httpx.Response, limit: int) -> None:
    """The 413 of `shared.body_limit`: problem+json naming `body` and the limit it went over."""
    problem = problem_of(response, 413)
    assert problem["type"] == BODY_TOO_LARGE
    assert problem["status"] == 413
    assert problem["errors"] == [{"field": "body", "message": f"more than {limit} bytes"}]
