"""Timing helpers shared by the benchmarks: paired ratios with a confidence interval, run until
the interval is narrow or a time cap is hit, and a verdict that says when the machine was too
busy to judge.

Why pairs: on a shared machine the load changes from second to second, so the medians of
separate runs of ours and torch's swing (the same code measured 3.78x, then 0.68x). Ours and
torch's run back to back (alternating which goes first), so a load change between pairs
affects both sides of a pair alike; the median of the pairs' ratios ignores the pairs a spike
hit; and its confidence interval says how far the machine let the measurement go.

Why CPU time too: a process that waits for a core does not spend CPU time meanwhile, so the
ratio of CPU times (all threads of the process, ``time.process_time``) is what the two sides
cost, less what the scheduler took from them. On a quiet machine the two ratios agree; when they
disagree, the wall-time interval is wide and the CPU-time one decides (see :func:`verdict`).
"""

import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

CONFIDENCE = 0.95
WIDTH = 0.1  # a narrow interval: high - low at most this fraction of the median
CAP_S = 20.0  # seconds one paired measurement may take (``python -m tests.benchmarks --cap``)


def set_threads(threads: int | None) -> int:
    """Run every benchmark, ours and torch's alike, on ``threads`` intra-op threads (torch's
    default when None); returns the number in force."""
    if threads is not None:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, ...]:
    """(median, low, high): the sample median and a distribution-free confidence interval for
    the median, between the order statistics :math:`x_{(k)}` and :math:`x_{(n+1-k)}` with the
    largest :math:`k` such that :math:`P(\\mathrm{Bin}(n, 1/2) < k) \\le (1 - c)/2`. With fewer
    than 6 values no such :math:`k \\ge 1` exists at 95%: the interval is then the range.

    >>> median_interval([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    (5.0, 2.0, 8.0)
    """
    xs = sorted(values)
    n = len(xs)
    tail, cumulative, k = (1 - confidence) / 2, 0.0, 0
    while k < n // 2:
        cumulative += math.comb(n, k) / 2**n  # P(Bin(n, 1/2) = k)
        if cumulative > tail:
            break
        k += 1
    k = max(k, 1)
    return statistics.median(xs), xs[k - 1], xs[n - k]


@dataclass
class Paired:
    """The result of :func:`paired_ratio`: per side the median seconds of its runs, and the
    ratio ours / torch's as the median over pairs with its interval, in wall and in CPU time."""

    ours_s: float
    theirs_s: float
    ratio: tuple[float, float, float]  # wall time: median, low, high
    cpu_ratio: tuple[float, float, float]  # CPU time of the process: median, low, high
    pairs: int
    seconds: float  # wall time the measurement took
    narrow: bool  # whether an interval, wall or CPU, reached the target width

    def cells(self) -> list[str]:
        """Table cells: the wall-time ratio with its interval, the CPU-time one, and the number
        of pairs, marked *(cap)* where the time cap or ``max_pairs`` ended the measurement."""
        pairs = str(self.pairs) if self.narrow else f"{self.pairs} (cap)"
        return [_interval(self.ratio), _interval(self.cpu_ratio), pairs]


def _interval(m_low_high: tuple[float, float, float]) -> str:
    median, low, high = m_low_high
    return f"{median:.2f} [{low:.2f}, {high:.2f}]"


def paired_ratio(
    ours: Callable[[], object],
    theirs: Callable[[], object],
    *,
    min_pairs: int = 12,
    max_pairs: int = 400,
    warmup: int = 1,
) -> Paired:
    """Time back-to-back pairs of ``ours()`` and ``theirs()`` (which one goes first alternates)
    until the confidence interval of the median ratio, in wall or in CPU time, is narrower
    than ``WIDTH`` times the median, or ``max_pairs`` pairs, or ``CAP_S`` seconds (at least
    ``min_pairs``).

    Both sides run under the same thread settings: if either call changes torch's number of
    threads, the measurement is void and this raises ``RuntimeError``."""
    threads = torch.get_num_threads()
    for _ in range(warmup):
        ours()
        theirs()
    wall = {ours: [], theirs: []}
    cpu = {ours: [], theirs: []}
    start = time.perf_counter()
    while True:
        order = (ours, theirs) if len(wall[ours]) % 2 == 0 else (theirs, ours)
        for fn in order:
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            wall[fn].append(time.perf_counter() - t0)
            cpu[fn].append(time.process_time() - c0)
        if torch.get_num_threads() != threads:
            raise RuntimeError("a benchmarked call changed torch's number of threads")
        n = len(wall[ours])
        ratio, cpu_ratio = (_ratio_interval(times[ours], times[theirs]) for times in (wall, cpu))
        narrow = any(high - low <= WIDTH * median for median, low, high in (ratio, cpu_ratio))
        if n >= min_pairs and (narrow or n >= max_pairs or time.perf_counter() - start > CAP_S):
            break
    return Paired(
        ours_s=statistics.median(wall[ours]),
        theirs_s=statistics.median(wall[theirs]),
        ratio=ratio,
        cpu_ratio=cpu_ratio,
        pairs=n,
        seconds=time.perf_counter() - start,
        narrow=narrow,
    )


def _ratio_interval(ours: list[float], theirs: list[float]) -> tuple[float, float, float]:
    """:func:`median_interval` of the pairs' ratios (a CPU time too short for the clock to see
    counts as a nanosecond)."""
    return median_interval([a / max(b, 1e-9) for a, b in zip(ours, theirs, strict=True)])


WITHIN, OVER, TOO_BUSY = "yes", "**no**", "too busy to judge"


def verdict(paired: Paired, budget: float) -> str:
    """``yes`` when the whole wall-time interval lies within ``budget``, ``**no**`` when all of
    it lies beyond; when it straddles the budget (a busy machine widens it), the CPU-time
    interval decides the same way, and if it straddles too, the machine was too busy to judge.
    """
    for _, low, high in (paired.ratio, paired.cpu_ratio):
        if high <= budget:
            return WITHIN
        if low > budget:
            return OVER
    return TOO_BUSY


def method_note() -> str:
    """How :func:`paired_ratio` and :func:`verdict` measure and judge, for a report."""
    return (
        "Back-to-back pairs of ours and torch's (alternating which goes first), repeated until "
        f"the {CONFIDENCE:.0%} interval of the median ratio, in wall or CPU time, is narrower "
        f"than {WIDTH:.0%} of it or {CAP_S:g} s have passed (*(cap)*; `timing.paired_ratio`); "
        "*ratio*: the median of the pairs' "
        "ratios ours / torch's, in wall time and in the process's CPU time, with its interval. "
        "Within budget when the whole interval is, over when all of it is beyond; in wall time, "
        "or in CPU time where the wall-time interval straddles the budget (`timing.verdict`)."
    )


def load_note(before: tuple[float, ...]) -> str:
    """A sentence on the conditions: threads, cores and the 1-minute load average before and
    after (a load above the number of cores means processes waited for a core)."""
    after = os.getloadavg()
    return (
        f"{torch.get_num_threads()} torch threads for ours and torch's alike, "
        f"{os.cpu_count()} cores; 1-minute load average {before[0]:.1f} before, "
        f"{after[0]:.1f} after."
    )


def summary(rows: Sequence[tuple[str, str]]) -> str:
    """One line per verdict: which rows are over budget and which the machine was too busy to
    judge (rerun those on a quieter machine), from (name, verdict) pairs."""
    over = [name for name, v in rows if v == OVER]
    busy = [name for name, v in rows if v == TOO_BUSY]
    lines = [f"Over budget: {', '.join(over) or 'none'}."]
    if busy:
        lines.append(
            f"The machine was too busy to judge: {', '.join(busy)} (the interval straddles the "
            "budget in wall and in CPU time within the time cap; rerun when it is quieter)."
        )
    return " ".join(lines)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Render rows as a Markdown table; floats are shown with 3 significant digits."""

    def cell(value: object) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
