"""The arithmetic of the impact figures: medians, rounding, ranks and Spearman's rho."""

import itertools
import random

import pytest

from services.impact.domain.stats import median, ranks, ratio, spearman


def test_the_median_of_an_odd_count_is_the_middle_value() -> None:
    assert median([7.0, 1.0, 3.0]) == 3.0


def test_the_median_of_an_even_count_is_the_mean_of_the_two_middle_values() -> None:
    assert median([4.0, 1.0, 10.0, 2.0]) == 3.0


def test_the_median_of_nothing_is_none() -> None:
    assert median([]) is None


def test_a_ratio_has_four_decimals_and_is_zero_without_a_whole() -> None:
    assert ratio(1, 3) == 0.3333
    assert ratio(2, 3) == 0.6667
    assert ratio(0, 0) == 0.0


def test_tied_values_share_the_mean_of_their_ranks() -> None:
    assert ranks([10.0, 20.0, 20.0, 5.0, 20.0]) == [2.0, 4.0, 4.0, 1.0, 4.0]


def test_a_monotone_relation_has_rho_one_and_a_reversed_one_minus_one() -> None:
    xs = [0.1, 0.4, 0.2, 0.9, 0.5]
    assert spearman(xs, [x**3 for x in xs]) == pytest.approx(1.0)
    assert spearman(xs, [-x for x in xs]) == pytest.approx(-1.0)


def test_without_ties_rho_is_one_minus_six_times_the_squared_rank_differences() -> None:
    generator = random.Random(7)
    for n in (5, 8, 13):
        xs = generator.sample(range(1000), n)
        ys = generator.sample(range(1000), n)
        rank_x = {v: i + 1 for i, v in enumerate(sorted(xs))}
        rank_y = {v: i + 1 for i, v in enumerate(sorted(ys))}
        d2 = sum((rank_x[x] - rank_y[y]) ** 2 for x, y in zip(xs, ys, strict=True))
        expected = 1 - 6 * d2 / (n * (n * n - 1))
        assert spearman([float(x) for x in xs], [float(y) for y in ys]) == pytest.approx(expected)


def test_with_ties_rho_is_pearsons_correlation_of_the_mean_ranks() -> None:
    # ranks x: 1, 2.5, 2.5, 4, 5; ranks y: 1, 2, 3, 4.5, 4.5 (worked by hand)
    xs, ys = [1.0, 2.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0, 40.0]
    rx, ry = [1, 2.5, 2.5, 4, 5], [1, 2, 3, 4.5, 4.5]
    mx, my = sum(rx) / 5, sum(ry) / 5
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    var = sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)
    assert spearman(xs, ys) == pytest.approx(cov / var**0.5)
    # deviations from the mean rank 3: (-2, -.5, -.5, 1, 2) and (-2, -1, 0, 1.5, 1.5): 9 / 9.5
    assert spearman(xs, ys) == pytest.approx(18 / 19)


def test_rho_is_none_when_a_side_does_not_vary_or_there_are_fewer_than_two_pairs() -> None:
    assert spearman([0.5, 0.5, 0.5], [1.0, 2.0, 3.0]) is None
    assert spearman([0.2], [1.0]) is None
    assert spearman([], []) is None


def test_rho_does_not_depend_on_the_order_of_the_pairs() -> None:
    pairs = [(0.1, 3.0), (0.5, 1.0), (0.3, 2.0), (0.9, 0.5), (0.7, 0.7)]
    values = {
        round(spearman([p for p, _ in order], [c for _, c in order]) or 0, 12)
        for order in itertools.permutations(pairs)
    }
    assert len(values) == 1
