"""Chaos: S3 and Redis down and back, NATS restarted, under one ``ssmd up`` on the distributed
backends (``bench/chaos_infra.py``); and the secrets scan (``bench/chaos_secrets.py``)."""

from __future__ import annotations

import chaos_infra
import chaos_secrets
import pytest
from procs import assert_held as check

pytestmark = pytest.mark.chaos


@pytest.mark.slow
def test_outages() -> None:
    check(chaos_infra.outages(quick=True))


def test_secrets_never_leak() -> None:
    check(chaos_secrets.secrets(quick=True))
