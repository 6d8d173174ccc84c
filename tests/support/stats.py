"""Figures over measured samples: one percentile rule for every benchmark and test."""

from __future__ import annotations


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank p-th percentile (0-100) of values; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]



def p50_p99_max(values: list[float], digits: int = 3) -> str:
    """"p50 / p99 / max" of values, as the benchmark tables print latencies."""
    top = max(values, default=float("nan"))
    return (f"{percentile(values, 50):.{digits}f} / {percentile(values, 99):.{digits}f}"
            f" / {top:.{digits}f}")
