"""Chaos: abusive gateway clients (no key, wrong key, garbage, oversize frames, 100k symbols,
never reading) next to well-behaved ones (``bench/chaos_abuse.py``, quick mode: 200 clients).

Every refusal must be clear (asserted strictly). The latency figure is asserted against the
scenario's quick-mode bound, a tolerant one: on a loaded 2-core CI box the baseline p99 alone
moves by more than 10 % between rounds; the full bench run reports against the 10 % goal."""

from __future__ import annotations

import chaos_abuse
import pytest
from procs import assert_held as check

from tests.chaos.cases import cases

pytestmark = pytest.mark.chaos


@pytest.mark.parametrize("scenario", cases(chaos_abuse.scenarios(quick=True)))
def test_gateway_abuse(scenario: chaos_abuse.Scenario) -> None:
    check(scenario.run())
