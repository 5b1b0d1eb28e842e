"""`copctl sources`: the events service's source registry, through its admin API (`/sources`).

The registry is the events service's state, so copctl only asks the service: it signs itself a
short-lived admin token with the services' `AUTH_TOKEN_SECRET` and calls the service over HTTP.
"""

from typing import Any
from urllib.parse import quote

import httpx

from copctl.operator_http import OperatorClient, ServiceError, field_errors, problem_detail


class SourcesError(ServiceError):
    pass


class SourcesClient(OperatorClient):
    service = "events service"
    url_option = "--events-url or EVENTS_URL"
    error = SourcesError

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
        response = self._request(method, path, **kw)
        if response.status_code == expect:
            return response
        raise self._refusal(response)

    def _refused(self, response: httpx.Response, problem: dict[str, Any]) -> ServiceError:
        detail = problem_detail(response, problem)
        if response.status_code == 422:
            return SourcesError("\n".join(field_errors(problem)) or detail, exit_code=2)
        if response.status_code in (404, 409):
            return SourcesError(detail)
        return super()._refused(response, problem)
