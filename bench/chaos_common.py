"""The row every chaos scenario reports: what was done, what was measured, the goal, and whether it held.

Scenarios live in ``bench/chaos_*.py``; each module defines ``scenarios(quick: bool) -> list[Scenario]``.
``bench/chaos.py`` runs them all and prints one table; ``tests/chaos/`` runs the same functions and
asserts each figure against its goal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ChaosResult:
    scenario: str  # e.g. "kill -9 of ssmd up mid-burst"
    figure: str  # what was measured, human-readable: "RPO 0.4 s, 212 of 50,000 records"
    goal: str  # the stated guarantee: "RPO <= 1 s"
    held: bool  # the figure meets the goal
    detail: str = ""  # counts behind the figure, for the docs table


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[], list[ChaosResult]]
    slow: bool = False
