"""A member's standing: give and take points, counted kudos, and their style
(docs/recognition.md#profiles-and-styles).

Style over give g and take t: g + t < 3 → `newcomer`; else r = g / (g + t): r ≥ 0.6 → `giver`,
r ≤ 0.25 → `taker`, otherwise `matcher`. The thresholds are compared as exact fractions.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass, fields
from fractions import Fraction

GIVER_AT_LEAST = Fraction(3, 5)
TAKER_AT_MOST = Fraction(1, 4)
NEWCOMER_BELOW = 3


def style(give: int, take: int) -> str:
    if give + take < NEWCOMER_BELOW:
        return "newcomer"
    ratio = Fraction(give, give + take)
    if ratio >= GIVER_AT_LEAST:
        return "giver"
    if ratio <= TAKER_AT_MOST:
        return "taker"
    return "matcher"


@dataclass(frozen=True, slots=True)
class Standing:
    give: int = 0
    take: int = 0
    kudos_received: int = 0
    kudos_given: int = 0
    spoke: int = 0
    facilitated: int = 0
    authored: int = 0

    def __add__(self, other: "Standing") -> "Standing":
        return Standing(
            self.give + other.give,
            self.take + other.take,
            self.kudos_received + other.kudos_received,
            self.kudos_given + other.kudos_given,
            self.spoke + other.spoke,
            self.facilitated + other.facilitated,
            self.authored + other.authored,
        )

    def as_tuple(self) -> tuple[int, ...]:
        return (self.give, self.take, self.kudos_received, self.kudos_given, self.spoke,
                self.facilitated, self.authored)  # fmt: skip

    @property
    def score(self) -> int:
        """The leaderboard score: give plus twice the counted kudos received."""
        return self.give + 2 * self.kudos_received

    @property
    def style(self) -> str:
        return style(self.give, self.take)

    def public(self) -> dict[str, int | str]:
        return {
            "give": self.give,
            "take": self.take,
            "style": self.style,
            "kudos_received": self.kudos_received,
            "kudos_given": self.kudos_given,
        }


def total(standings: Iterable[Standing]) -> Standing:
    # field by field over all of them at once: adding pairwise makes a Standing per step
    return Standing(*map(sum, zip(*(s.as_tuple() for s in standings), strict=True)))


_WIDTH = len(fields(Standing))


def encode(items: int, standing: Standing) -> str:
    """A standing computed from `items` facts, as a string whose order follows `items`.

    The facts behind a member's month only ever grow, so the standing computed from more of
    them is the newer one: stored with `$max`, the latest wins whatever order writers land in.
    """
    return "|".join([f"{items:010d}", *map(str, standing.as_tuple())])


@functools.lru_cache(maxsize=65_536)
def decode(value: str) -> Standing:
    """The standing of an encoded value (cached: a batch reads the same rollups many times)."""
    parts = value.split("|")[1:]
    if len(parts) != _WIDTH:
        raise ValueError(f"not an encoded standing: {value!r}")
    return Standing(*map(int, parts))
