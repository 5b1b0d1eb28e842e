"""The kudos policy: no self-kudos, a per-period allowance, a fixed set of value tags."""

from dataclasses import dataclass
from datetime import datetime


class PolicyViolation(ValueError):
    """A kudos the policy refuses, with a machine-readable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class KudosPolicy:
    allowance_per_week: int
    value_tags: frozenset[str]

    def check_request(self, from_id: str, to_ids: list[str], value_tag: str) -> None:
        """Rules a member's own request must pass before the kudos is published."""
        if from_id in to_ids:
            raise PolicyViolation("self_kudos", "kudos cannot be given to yourself")
        if len(set(to_ids)) != len(to_ids):
            raise PolicyViolation("duplicate_recipient", "each recipient may appear only once")
        if value_tag not in self.value_tags:
            allowed = ", ".join(sorted(self.value_tags))
            raise PolicyViolation("unknown_value_tag", f"value_tag must be one of: {allowed}")

    def check_allowance(self, given_this_period: int) -> None:
        """`given_this_period` already includes the kudos being judged."""
        if given_this_period > self.allowance_per_week:
            raise PolicyViolation(
                "allowance_exhausted",
                f"the allowance of {self.allowance_per_week} kudos per week is used up",
            )


def allowance_period(at: datetime) -> str:
    """The ISO week a kudos counts against, e.g. `2026-W47`."""
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class Judgement:
    """Which recipients a recorded kudos counts for, and why the others do not."""

    counted: tuple[str, ...]
    not_counted: dict[str, str]


def judge_recorded(
    from_id: str, to_ids: list[str], value_tag: str, policy: KudosPolicy
) -> Judgement:
    """A fact from outside (a chat bot, an import) is never refused, only judged."""
    counted: list[str] = []
    not_counted: dict[str, str] = {}
    for member in to_ids:
        if value_tag not in policy.value_tags:
            not_counted[member] = "unknown_value_tag"
        elif member == from_id:
            not_counted[member] = "self_kudos"
        elif member in counted:
            not_counted.setdefault(member, "duplicate_recipient")
        else:
            counted.append(member)
    return Judgement(tuple(counted), not_counted)
