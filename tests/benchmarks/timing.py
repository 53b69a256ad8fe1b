"""Small timing helpers shared by the benchmarks."""

import gc
import statistics
import time
from collections.abc import Callable, Sequence


def median_seconds(fn: Callable[[], object], *, repeat: int = 7, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(
    ours: Callable[[], object], theirs: Callable[[], object], *, rounds: int = 3, **kw
) -> tuple[float, float]:
    """Median times of ``ours`` and ``theirs``, measured alternately in ``rounds`` rounds so that
    a change in machine load affects both sides alike. Returns (ours_s, theirs_s)."""
    ours_times, theirs_times = [], []
    for _ in range(rounds):
        theirs_times.append(median_seconds(theirs, **kw))
        ours_times.append(median_seconds(ours, **kw))
    return statistics.median(ours_times), statistics.median(theirs_times)


def paired_ratio(ours: Callable[[], object], theirs: Callable[[], object], *, rounds: int) -> float:
    """Median over ``rounds`` back-to-back pairs of ``ours``' time over ``theirs``' (which one
    goes first alternates). A change of machine load between pairs affects both sides of a
    pair alike, and the median ignores the pairs that a load spike hit, so this ratio stays
    put on a shared machine where medians of separate runs swing."""
    ratios = []
    for i in range(rounds):
        seconds = {}
        for fn in (ours, theirs) if i % 2 == 0 else (theirs, ours):
            start = time.perf_counter()
            fn()
            seconds[fn] = time.perf_counter() - start
        ratios.append(seconds[ours] / seconds[theirs])
    return statistics.median(ratios)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Render rows as a Markdown table; floats are shown with 3 significant digits."""

    def cell(value: object) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
