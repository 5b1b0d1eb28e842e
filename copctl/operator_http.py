"""How copctl talks to a service's admin API: a short-lived admin token signed with the services'
`AUTH_TOKEN_SECRET`, one HTTP client, and one kind of error that says what went wrong."""

from types import TracebackType
from typing import Self

import httpx

from shared.auth import ADMIN, issue_token

OPERATOR = "copctl"
"""The member id copctl's admin token speaks for."""


class ServiceError(Exception):
    """The service is not reachable or refused the request; the message says which and why.

    `exit_code` is 2 when the request itself is wrong (a bad argument), 1 otherwise.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class OperatorClient:
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
