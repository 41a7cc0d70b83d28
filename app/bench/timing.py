"""Wall-time medians of a measured callable, alone or alternating with its baseline."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def median_seconds(fn: Callable[[], object], reps: int, *, before: Callable[[], object] | None = None) -> float:
    """Median wall time of `fn` over `reps` runs; `before` runs untimed ahead of each."""
    samples = []
    for _ in range(reps):
        if before is not None:
            before()
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def paired_medians(product: Callable[[], object], baseline: Callable[[], object], reps: int, *,
                   before: Callable[[], object] | None = None) -> tuple[float, float]:
    """Median wall times of `product` and `baseline`, run alternately so the machine's load affects both alike."""
    first, second = [], []
    for _ in range(reps):
        for fn, samples in ((product, first), (baseline, second)):
            if before is not None and fn is product:
                before()
            started = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - started)
    return statistics.median(first), statistics.median(second)
