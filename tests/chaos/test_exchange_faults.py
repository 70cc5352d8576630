"""Chaos: exchange faults, each against the simulator, each figure asserted against its goal
(the scenarios of ``bench/chaos_exchange.py`` and ``bench/chaos_heal.py``, in quick mode)."""

from __future__ import annotations

import chaos_exchange
import chaos_heal
import pytest
from procs import assert_held as check

from tests.chaos.cases import cases

pytestmark = pytest.mark.chaos


SCENARIOS = [*chaos_exchange.scenarios(quick=True), *chaos_heal.scenarios(quick=True)]


@pytest.mark.parametrize("scenario", cases(SCENARIOS))
def test_exchange_fault(scenario: chaos_exchange.Scenario) -> None:
    check(scenario.run())
