"""Why a command is refused. A domain raises these; every service's HTTP layer answers them as
problem+json whose `type` is `urn:cop:problem:{service}:{code}` and whose body carries the
`code` and any details."""

from typing import Any


class Refused(Exception):
    """A command the current state does not allow (HTTP 409), with a machine-readable code."""

    status = 409
    title = "Refused in the current state"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.details: dict[str, Any] = {}


class NotFound(Refused):
    status = 404
    title = "Not found"


class Forbidden(Refused):
    """The actor may not do this, whatever the state (HTTP 403); `code` names the rule."""

    status = 403
    title = "Not allowed"


class Invalid(Refused):
    """Input that the current state shows to be wrong (HTTP 422), e.g. attendees who are not
    members: names the field and the values that are wrong in it."""

    status = 422
    title = "Request is not valid"

    def __init__(
        self, code: str, message: str, *, field: str, values: list[str] | None = None
    ) -> None:
        super().__init__(code, message)
        self.details = {
            "field": field,
            "values": values or [],
            "errors": [{"field": field, "message": message}],
        }
