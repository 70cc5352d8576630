"""Chaos: kill -9 of ``ssmd up`` mid-burst (local mode) and of the archiver over NATS, each
figure asserted against its goal (``bench/chaos_process.py``, quick mode)."""

from __future__ import annotations

import chaos_process
import pytest
from procs import assert_held as check

pytestmark = pytest.mark.chaos


def test_kill_up_default_flush() -> None:
    """The archiver as a user has it (flush every 2 s), killed at the worst moment."""
    check(chaos_process.kill_up(quick=True))


def test_kill_up_flush_half_second() -> None:
    check(chaos_process.kill_up(quick=True, flush=0.5))


@pytest.mark.slow
def test_kill_archiver_nats() -> None:
    """0 acked messages lost, 0 duplicates; the run waits out the 60 s JetStream redelivery."""
    check(chaos_process.kill_archiver(quick=True))
