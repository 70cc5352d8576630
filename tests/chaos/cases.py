"""Scenarios as pytest parameters: one test case each, ``slow`` where the scenario says so."""

from __future__ import annotations

from typing import Any

import pytest


def cases(scenarios: list[Any]) -> list[Any]:
    return [pytest.param(s, id=s.name, marks=[pytest.mark.slow] if s.slow else []) for s in scenarios]
