"""Who asks for a command, as a service's rules see it: a member, possibly with the admin scope
(operators, back-office systems, the platform's own edge). An entry point takes it from the
authenticated caller (`shared.auth.Caller.actor`); the rules decide what it may do."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    member_id: str
    is_admin: bool = False

    def same_as(self, member_id: str | None) -> bool:
        return member_id is not None and member_id == self.member_id
