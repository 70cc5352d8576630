"""Chaos: the data dir on a small tmpfs fills up under ``ssmd up`` (``bench/chaos_process.py``)."""

from __future__ import annotations

import chaos_process
import pytest
from procs import assert_held as check

pytestmark = pytest.mark.chaos


def test_disk_full() -> None:
    """Ingest keeps receiving, says so, memory bounded, nothing lost once space returns."""
    check(chaos_process.disk_full(quick=True))
