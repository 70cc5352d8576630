"""Chaos: mutated frames through the connector's frame path: 0 crashes, every rejected frame
in the DLQ with its reason, bounded memory (``bench/chaos_fuzz.py``, quick mode: 100k frames)."""

from __future__ import annotations

import chaos_fuzz
import pytest
from procs import assert_held as check

from tests.chaos.cases import cases

pytestmark = pytest.mark.chaos


@pytest.mark.parametrize("scenario", cases(chaos_fuzz.scenarios(quick=True)))
def test_fuzzed_frames(scenario: chaos_fuzz.Scenario) -> None:
    check(scenario.run())
