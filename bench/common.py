"""Shared pieces of the benchmarks: a result row and a timer.

Each ``bench/bench_*.py`` defines ``run(quick: bool) -> list[Result]``. A result carries
ssmd's figure and, measured in the same run, the bare-library ceiling it is compared to.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str
    ceiling: float | None = None
    ceiling_name: str = ""
    goal: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if not self.ceiling:
            return None
        return self.value / self.ceiling if self.higher_is_better else self.ceiling / self.value


def best_rate(fn: Callable[[], int], repeat: int = 3) -> float:
    """Items per second of ``fn`` (which returns how many items it processed): median of runs."""
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def median_seconds(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
