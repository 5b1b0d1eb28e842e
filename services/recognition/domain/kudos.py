"""The kudos policy and its judge.

Each recipient of a kudos is judged in this order: the giver themself (`self_kudos`), a value tag
outside the configured list (`unknown_value_tag`), a recipient already named in the same kudos
(`duplicate_recipient`), the giver's allowance for the period already used
(`allowance_exhausted`); otherwise the recipient is counted and uses one unit of the allowance.

The first three rules need nothing but the kudos. The allowance needs the order in which the
giver's kudos of a period were judged: that order is kept as an append-only list per giver and
period (`AllowanceEntry`), and the units are handed out by walking it (`allot`). Judging the same
kudos again walks the same list and gives the same answer, which is what makes a decision final.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.recognition.domain.periods import month_key, week_key
from shared.events.catalog import KudosVerdict, RecipientVerdict


class PolicyViolation(ValueError):
    """A member's own kudos request that the policy refuses, with a machine-readable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class KudosPolicy:
    allowance: int
    period: str  # "month" or "week"
    value_tags: frozenset[str]

    def period_of(self, at: datetime) -> str:
        """The allowance period a kudos given at `at` counts against, e.g. `2026-11`."""
        return week_key(at) if self.period == "week" else month_key(at)

    def check_request(self, from_id: str, to_ids: list[str], value_tag: str) -> None:
        """A member's own request is refused outright (rather than judged) when it breaks a rule
        that needs no state: nobody means to send those."""
        if from_id in to_ids:
            raise PolicyViolation("self_kudos", "kudos cannot be given to yourself")
        if value_tag not in self.value_tags:
            allowed = ", ".join(sorted(self.value_tags))
            raise PolicyViolation("unknown_value_tag", f"value_tag must be one of: {allowed}")
        if len(set(to_ids)) != len(to_ids):
            raise PolicyViolation("duplicate_recipient", "each recipient may appear only once")

    def check_remaining(self, used: int, wanted: int) -> None:
        if used + wanted > self.allowance:
            left = max(self.allowance - used, 0)
            raise PolicyViolation(
                "allowance_exhausted",
                f"the allowance of {self.allowance} kudos per {self.period} has {left} left",
            )

    def screen(
        self, from_id: str, to_ids: Sequence[str], value_tag: str
    ) -> list[tuple[str, KudosVerdict | None]]:
        """The stateless rules, per recipient in order: the reason, or None when only the
        allowance is left to decide."""
        seen: set[str] = set()
        screened: list[tuple[str, KudosVerdict | None]] = []
        for member in to_ids:
            if member == from_id:
                screened.append((member, KudosVerdict.SELF_KUDOS))
            elif value_tag not in self.value_tags:
                screened.append((member, KudosVerdict.UNKNOWN_VALUE_TAG))
            elif member in seen:
                screened.append((member, KudosVerdict.DUPLICATE_RECIPIENT))
            else:
                seen.add(member)
                screened.append((member, None))
        return screened


@dataclass(frozen=True)
class AllowanceEntry:
    """One kudos as it joined its giver's allowance list: the recipients left for the allowance."""

    kudos_id: str
    eligible: tuple[str, ...]


def allot(entries: Iterable[AllowanceEntry], allowance: int) -> dict[str, tuple[str, ...]]:
    """Units handed out in list order; an entry repeated later (a redelivery) is ignored."""
    left = allowance
    counted: dict[str, tuple[str, ...]] = {}
    for entry in entries:
        if entry.kudos_id in counted:
            continue
        granted = entry.eligible[: max(left, 0)]
        left -= len(granted)
        counted[entry.kudos_id] = granted
    return counted


def verdicts(
    screened: Sequence[tuple[str, KudosVerdict | None]], counted: Sequence[str]
) -> list[RecipientVerdict]:
    granted = set(counted)
    return [
        RecipientVerdict(
            member_id=member,
            verdict=reason
            or (KudosVerdict.COUNTED if member in granted else KudosVerdict.ALLOWANCE_EXHAUSTED),
        )
        for member, reason in screened
    ]
