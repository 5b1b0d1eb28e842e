"""`copctl sources`: the events service's source registry, through its admin API (`/sources`).

The registry is the events service's state, so copctl only asks the service: it signs itself a
short-lived admin token with the services' `AUTH_TOKEN_SECRET` and calls the service over HTTP.
"""

from typing import Any
from urllib.parse import quote

import httpx

from copctl.operator_http import OperatorClient, ServiceError


class SourcesError(ServiceError):
    pass


class SourcesClient(OperatorClient):
    def add(self, name: str, types: list[str], rate_limit_per_minute: int | None) -> Any:
        """Register a system; the answer carries its API key (the only time it is shown)."""
        body: dict[str, Any] = {"name": name, "types": types}
        if rate_limit_per_minute is not None:
            body["rate_limit_per_minute"] = rate_limit_per_minute
        return self._call("POST", "/sources", 201, json=body).json()

    def all(self) -> Any:
        return self._call("GET", "/sources", 200).json()

    def rotate(self, name: str, overlap_s: int | None) -> Any:
        """A new key for the system (the only time it is shown); the current key keeps working
        for `overlap_s` seconds (None: the service's default)."""
        body = {} if overlap_s is None else {"overlap_s": overlap_s}
        return self._call("POST", f"/sources/{quote(name, safe='')}/rotate", 200, json=body).json()

    def revoke(self, name: str) -> None:
        self._call("POST", f"/sources/{quote(name, safe='')}/revoke", 204)

    def _call(self, method: str, path: str, expect: int, **kw: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kw)
        except httpx.TimeoutException as e:
            raise SourcesError(
                f"the events service at {self.url} did not answer within "
                f"{self._timeout_s:g}s ({type(e).__name__})"
            ) from e
        except httpx.TransportError as e:
            reason = str(e) or type(e).__name__
            raise SourcesError(
                f"cannot reach the events service at {self.url} ({reason}); is it "
                "running (`copctl dev status`)? Point --events-url or EVENTS_URL at it."
            ) from e
        if response.status_code == expect:
            return response
        raise _refusal(response)


def _refusal(response: httpx.Response) -> SourcesError:
    """The service's problem+json answer as one readable message."""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict) or "status" not in problem:
        return SourcesError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code} {response.reason_phrase}: is that the events service?"
        )
    detail = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
    if response.status_code == 401:
        return SourcesError(
            f"the events service refused copctl's admin token ({detail}): "
            "is AUTH_TOKEN_SECRET the one the service uses?"
        )
    if response.status_code == 422:
        errors = problem.get("errors") or []
        lines = [f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict)]
        return SourcesError("\n".join(lines) or detail, exit_code=2)
    if response.status_code in (404, 409):
        return SourcesError(detail)
    return SourcesError(f"the events service answered {response.status_code}: {detail}")
