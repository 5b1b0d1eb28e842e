"""Why a command is refused; the HTTP layer turns these into problem+json."""


class Refused(Exception):
    """A command the current state does not allow (HTTP 409), with a machine-readable code."""

    status = 409

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class NotFound(Refused):
    status = 404
