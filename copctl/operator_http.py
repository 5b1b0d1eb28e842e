"""How copctl talks to a service's admin API: a short-lived admin token signed with the services'
`AUTH_TOKEN_SECRET`, one HTTP client, and one kind of error that says what went wrong."""

from types import TracebackType
from typing import Any, Self

import httpx

from shared.tokens import ADMIN, issue_token

OPERATOR = "copctl"
"""The member id copctl's admin token speaks for."""


class ServiceError(Exception):
    """The service is not reachable or refused the request; the message says which and why.

    `exit_code` is 2 when the request itself is wrong (a bad argument), 1 otherwise.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def transport_failure(
    service: str,
    url: object,
    error: httpx.TransportError,
    *,
    url_option: str,
    timeout_s: float | None = None,
) -> str:
    """Why `service` (e.g. "events service") at `url` could not be asked, and what to check:
    that it runs, and `url_option` (the option or variable that points copctl at it)."""
    if isinstance(error, httpx.TimeoutException):
        within = "in time" if timeout_s is None else f"within {timeout_s:g}s"
        return f"the {service} at {url} did not answer {within} ({type(error).__name__})"
    reason = str(error) or type(error).__name__
    return (
        f"cannot reach the {service} at {url} ({reason}); is it running (`copctl dev status`)? "
        f"Point {url_option} at it."
    )


def field_errors(problem: dict[str, Any]) -> list[str]:
    """A problem's `errors`, one `field: message` line each."""
    errors = problem.get("errors") or []
    return [f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict)]


class OperatorClient:
    """A client of one service's admin API. A subclass names the `service`, the `url_option`
    that points copctl at it and the `error` its calls raise, and may say what the service's
    refusals mean (`_refused`)."""

    service = "service"
    url_option = "--url"
    error: type[ServiceError] = ServiceError

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        token = issue_token(secret, OPERATOR, scopes=(ADMIN,), ttl_s=300)
        self._timeout_s = timeout_s
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """The service's answer, whatever its status; `error` when there is none."""
        try:
            return self._http.request(method, path, **kw)
        except httpx.TransportError as e:
            raise self.error(
                transport_failure(
                    self.service, self.url, e, url_option=self.url_option, timeout_s=self._timeout_s
                )
            ) from e

    def _refusal(self, response: httpx.Response) -> ServiceError:
        """The service's refusal (problem+json) as one readable message."""
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if not isinstance(problem, dict) or "status" not in problem:
            return self.error(
                f"{response.request.method} {response.request.url} answered "
                f"{response.status_code} {response.reason_phrase}: is that the {self.service}?"
            )
        if response.status_code == 401:
            detail = problem_detail(response, problem)
            return self.error(
                f"the {self.service} refused copctl's admin token ({detail}): "
                "is AUTH_TOKEN_SECRET the one the service uses?"
            )
        return self._refused(response, problem)

    def _refused(self, response: httpx.Response, problem: dict[str, Any]) -> ServiceError:
        """Any other refusal: its status and reason."""
        detail = problem_detail(response, problem)
        return self.error(f"the {self.service} answered {response.status_code}: {detail}")


def problem_detail(response: httpx.Response, problem: dict[str, Any]) -> str:
    """What a problem says went wrong: its detail, else its title, else the status's phrase."""
    return str(problem.get("detail") or problem.get("title") or response.reason_phrase)
