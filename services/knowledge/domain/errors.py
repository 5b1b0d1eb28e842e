"""Why a knowledge command is refused; the HTTP layer turns these into problem+json with a code."""


class Refused(Exception):
    """A command the current state does not allow (HTTP 409), with a machine-readable code."""

    status = 409
    title = "Refused in the current state"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class NotFound(Refused):
    status = 404
    title = "Not found"


class Forbidden(Refused):
    """The actor may not do this, whatever the state (HTTP 403); `code` names the rule."""

    status = 403
    title = "Not allowed"
