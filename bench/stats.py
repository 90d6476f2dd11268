"""Percentiles and rates, computed the same way for a service and for its baseline."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of unsorted ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p90/p99/max in milliseconds of durations given in seconds."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    return {
        "count": len(seconds),
        "p50_ms": ms(percentile(seconds, 50)),
        "p90_ms": ms(percentile(seconds, 90)),
        "p99_ms": ms(percentile(seconds, 99)),
        "max_ms": ms(max(seconds) if seconds else None),
    }


def steady_rate(arrivals: Sequence[float], low: float = 0.1, high: float = 0.9) -> float | None:
    """Events/s between the ``low`` and ``high`` shares of the arrivals: ramp-up and tail left out."""
    if len(arrivals) < 20:
        return None
    ordered = sorted(arrivals)
    i, j = int(low * (len(ordered) - 1)), int(high * (len(ordered) - 1))
    span = ordered[j] - ordered[i]
    return (j - i) / span if span > 0 else None


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return round(value / baseline, 3)
