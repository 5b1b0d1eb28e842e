"""Who asks for a command: a member, possibly with the admin scope (operators, back-office).

Function-level authorization lives in the domain (docs/events.md#who-may-do-what): the rules in
`community` and `session` take the actor and raise `Forbidden` with a code that names the rule.
"""

from shared.actor import Actor as Actor
from shared.refusals import Forbidden


def require_self(actor: Actor, member_id: str, action: str) -> None:
    """Some things a member does only in their own name (an admin may for anyone)."""
    if not (actor.is_admin or actor.same_as(member_id)):
        raise Forbidden("not_self", f"{actor.member_id} cannot {action} as {member_id}")


def require_admin(actor: Actor, action: str) -> None:
    """What only operators and the platform's own edge (with the admin scope) may do."""
    if not actor.is_admin:
        raise Forbidden("not_admin", f"only an admin may {action}")
