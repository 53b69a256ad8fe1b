"""The statistics behind the benchmarks' verdicts (tests/benchmarks/timing.py): the interval of
a median covers it as often as it claims, the verdict needs a whole interval on one side of the
budget, and a measurement whose calls change the thread settings is refused."""

import random

import pytest
import torch

from tests.benchmarks import timing


def test_median_interval_is_the_order_statistics_of_the_binomial():
    """n = 20: P(Bin(20, 1/2) <= 5) = 0.0207 <= 0.025 < P(<= 6) = 0.0577, so the interval runs
    from the 6th to the 15th smallest value."""
    values = [float(v) for v in range(20, 0, -1)]
    assert timing.median_interval(values) == (10.5, 6.0, 15.0)
    assert timing.median_interval([3.0, 1.0, 2.0]) == (2.0, 1.0, 3.0)  # too few: the range


def test_median_interval_covers_the_median_as_often_as_it_claims():
    """Samples of 30 from a skewed distribution (log-normal, median 1): the 95% interval holds
    the true median in at least 93% of 2000 samples (its coverage is 95.7% for n = 30)."""
    rng = random.Random(0)
    hits = 0
    for _ in range(2000):
        sample = [rng.lognormvariate(0.0, 0.5) for _ in range(30)]
        _, low, high = timing.median_interval(sample)
        hits += low <= 1.0 <= high
    assert hits >= 0.93 * 2000


def _paired(ratio, cpu_ratio):
    return timing.Paired(1.0, 1.0, ratio, cpu_ratio, pairs=20, seconds=1.0, narrow=True)


@pytest.mark.parametrize(
    ("ratio", "cpu_ratio", "expected"),
    [
        ((1.2, 1.1, 1.4), (3.0, 2.0, 4.0), timing.WITHIN),  # wall decides first
        ((1.7, 1.6, 1.9), (1.0, 0.9, 1.1), timing.OVER),
        ((1.4, 1.1, 1.9), (1.3, 1.2, 1.45), timing.WITHIN),  # wall straddles: CPU decides
        ((1.4, 1.1, 1.9), (1.6, 1.55, 1.7), timing.OVER),
        ((1.4, 1.1, 1.9), (1.45, 1.3, 1.6), timing.TOO_BUSY),  # both straddle
        ((1.5, 1.4, 1.5), (9.0, 9.0, 9.0), timing.WITHIN),  # the budget itself is within
    ],
)
def test_verdict_needs_a_whole_interval_on_one_side(ratio, cpu_ratio, expected):
    assert timing.verdict(_paired(ratio, cpu_ratio), 1.5) == expected


def test_summary_names_the_rows_over_budget_and_those_too_busy_to_judge():
    rows = [("a", timing.WITHIN), ("b", timing.OVER), ("c", timing.TOO_BUSY)]
    text = timing.summary(rows)
    assert "Over budget: b." in text and "too busy to judge: c " in text
    assert timing.summary(rows[:1]) == "Over budget: none."


def test_paired_ratio_refuses_calls_that_change_the_threads():
    threads = torch.get_num_threads()
    try:
        with pytest.raises(RuntimeError, match="threads"):
            timing.paired_ratio(lambda: None, lambda: torch.set_num_threads(threads + 1))
    finally:
        torch.set_num_threads(threads)


def test_paired_ratio_stops_at_a_narrow_interval_and_reports_each_side():
    """Two calls doing the same work: an interval narrows around 1 long before the pair
    limit."""

    def work():
        return sum(i * i for i in range(20_000))

    paired = timing.paired_ratio(work, work, min_pairs=12, max_pairs=400)
    assert paired.narrow and 12 <= paired.pairs < 400
    assert 0.8 < paired.cpu_ratio[0] < 1.25 and 0.8 < paired.ratio[0] < 1.25
    assert paired.ours_s > 0 and paired.theirs_s > 0
