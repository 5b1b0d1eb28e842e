"""What a refused HTTP request looks like to a test: the problem+json answers of `shared.http`."""

import httpx

from shared.body_limit import PROBLEM_TYPE as BODY_TOO_LARGE


def assert_body_too_large(response: httpx.Response, limit: int) -> None:
    """The 413 of `shared.body_limit`: problem+json naming `body` and the limit it went over."""
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == BODY_TOO_LARGE
    assert problem["status"] == 413
    assert problem["errors"] == [{"field": "body", "message": f"more than {limit} bytes"}]
