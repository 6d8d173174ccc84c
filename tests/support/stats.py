"""Figures over measured samples: one percentile rule for every benchmark and test."""

from __future__ import annotations


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank p-th percentile (0-100) of values; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def summary(values: list[float], points: tuple[float, ...] = (50, 95, 99),
            digits: int = 1) -> dict[str, float]:
    """{"p50": …, "p95": …, "p99": …, "max": …} rounded to `digits`."""
    out = {f"p{p:g}": round(percentile(values, p), digits) for p in points}
    out["max"] = round(max(values, default=float("nan")), digits)
    return out
