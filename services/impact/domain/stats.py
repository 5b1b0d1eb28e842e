"""The arithmetic of the impact figures: medians, ratios, hours, ranks and Spearman's rho."""

import math
from collections.abc import Sequence
from datetime import timedelta


def median(values: Sequence[float]) -> float | None:
    """The middle value; of an even count, the mean of the two middle ones; None of nothing."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def hours(span: timedelta) -> float:
    return span.total_seconds() / 3600


def rounded(value: float | None, decimals: int) -> float | None:
    return None if value is None else round(value, decimals)


def ratio(part: int, whole: int) -> float:
    """`part / whole` to 4 decimals, 0 when there is no whole."""
    return round(part / whole, 4) if whole else 0.0


def ranks(values: Sequence[float]) -> list[float]:
    """Each value's rank, 1 for the smallest; tied values share the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        shared = (start + end) / 2 + 1  # the mean of the ranks start+1 .. end+1
        for position in range(start, end + 1):
            result[order[position]] = shared
        start = end + 1
    return result


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation of paired values: Pearson's correlation of their ranks
    (ties share their mean rank). None with fewer than two pairs or when either side does not
    vary (every value the same): there is no order to compare."""
    if len(xs) != len(ys):
        raise ValueError("spearman needs pairs: as many xs as ys")
    if len(xs) < 2:
        return None
    rx, ry = ranks(xs), ranks(ys)
    mean_x, mean_y = sum(rx) / len(rx), sum(ry) / len(ry)
    dx = [r - mean_x for r in rx]
    dy = [r - mean_y for r in ry]
    spread = math.sqrt(sum(d * d for d in dx) * sum(d * d for d in dy))
    if spread == 0:
        return None
    return sum(a * b for a, b in zip(dx, dy, strict=True)) / spread
