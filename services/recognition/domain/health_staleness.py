"""When a period's health numbers, once computed, may be kept and served again.

Every fact the numbers read has a time, and changes only the periods that end after it: a
ledger entry, a session, feedback, a publication, a reuse or an action item opened counts in
the period that holds it and, for activity and the last six sessions, in periods ending later;
a join or a leave changes who is a member at every later end; a team change changes the team
of the member's sessions and reuses from then on; an action item's closing counts for the
period it was opened in only if it comes before that period's end. So a fact of time `t` can
change the numbers of the month of `t` and of every period after it, never of one that ended
before that month began (`changed_from`).

The projection counts, per month M, the batches whose facts change M onwards (the marks). The
numbers of a period depend on every mark up to its last month, and on nothing else that can
change, but for the authors of reused artifacts, which are written once, when the artifact is
published: a month that reads a reuse of an artifact not yet published is not kept (see
`MonthFacts.authors_known`). The current month, and any period not yet ended, is never kept.
"""

from collections.abc import Mapping
from datetime import datetime

from services.recognition.domain.health import MonthFacts
from services.recognition.domain.periods import Period, month_key

Marks = Mapping[str, int]
"""Month key -> how many times facts changing that month and every later one have landed."""


def changed_from(at: datetime) -> str:
    """The first month whose numbers a fact of time `at` may change."""
    return month_key(at)


def marks_through(marks: Marks, period: Period) -> int:
    """The marks a period's numbers depend on: they only grow, so a kept number computed with
    fewer than there are now may be stale."""
    last = period.months()[-1]
    return sum(count for month, count in marks.items() if month <= last)


def keepable(period: Period, months: Mapping[str, MonthFacts], now: datetime) -> bool:
    """Whether a period's numbers, composed from these months' facts, may be kept: it has
    ended, and none of its months waits for an artifact's authors."""
    return period.end <= now and all(months[m].authors_known for m in period.months())
