"""The one percentile definition every benchmark uses, and how results are printed.

Percentiles are **nearest-rank**: the p-th percentile of n samples is the
``ceil(p / 100 * n)``-th smallest (1-based), so it is always a time that was
measured, and at least p % of the samples are at or below it. With 1,000 samples
p99 is the 990th smallest; with 2,000 the 1,980th; p50 of an even count is the lower
of the two middle samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Latency", "Row", "at_least", "at_most", "mark", "percentile", "print_table"]

Row = tuple[str, str, str]
"""A summary table's row: what was measured, the result, the target (or "")."""


def percentile(samples: Sequence[float], percent: float) -> float:
    """The nearest-rank ``percent``-th percentile of ``samples``.

    Raises ``ValueError`` for no samples or a ``percent`` outside (0, 100].
    """
    if not samples:
        raise ValueError("no samples")
    if not 0 < percent <= 100:
        raise ValueError(f"percent {percent} is not in (0, 100]")
    rank = math.ceil(percent * len(samples) / 100)
    return sorted(samples)[rank - 1]


@dataclass(frozen=True)
class Latency:
    """p50 and p99 of a set of timings, in the timings' unit."""

    p50: float
    p99: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Latency:
        """The nearest-rank p50 and p99 of ``samples``; raises ``ValueError`` if empty."""
        return cls(percentile(samples, 50), percentile(samples, 99))


def mark(ok: bool) -> str:
    """What follows a target: ``ok`` or ``MISSED``."""
    return "ok" if ok else "MISSED"


def at_most(measured: float, target: float, *, what: str = "", unit: str = "") -> str:
    """``target {what}<= {target}{unit}   ok`` (or ``MISSED``) for an upper bound."""
    return f"target {what}<= {target:.0f}{unit}   {mark(measured <= target)}"


def at_least(measured: float, target: float, *, unit: str = "") -> str:
    """``target >= {target}{unit}   ok`` (or ``MISSED``) for a lower bound."""
    return f"target >= {target:.0f}{unit}   {mark(measured >= target)}"


def print_table(title: str, rows: Sequence[Row]) -> None:
    """The summary a benchmark ends with: a title and a Markdown table of its rows."""
    print()
    print(title)
    print()
    print("| measure | result | target |")
    print("|---|---|---|")
    for measure, result, target in rows:
        print(f"| {measure} | {result} | {target} |")
