"""Orchestration pieces that need no Temporal server: step mapping, retry classes, schedules, CLI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ssmd.day.steps import END_STEPS, START_STEPS
from ssmd.errors import AuthError, ConfigError, TransportError
from ssmd.orchestration.activities import DayActivities, _fail
from ssmd.orchestration.client import schedules_for
from ssmd.orchestration.temporal import RetrySettings, step_retry_policy


class _NoBackends:
    cache = journal = None


def test_activities_drive_the_local_schedulers_step_functions(make_env: Callable[..., Any]) -> None:
    activities = DayActivities(make_env(), backends=_NoBackends())
    for name, fn in [*START_STEPS, *END_STEPS]:
        assert activities.steps[name] is fn


def test_fatal_errors_are_not_retried_transient_ones_are() -> None:
    assert _fail(ConfigError("env", "keys.kalshi", "bad")).non_retryable
    assert _fail(AuthError("key refused")).non_retryable
    assert not _fail(TransportError("down")).non_retryable
    assert not _fail(ConnectionResetError("reset")).non_retryable


def test_step_retry_policy_is_exponential_backoff_with_bounded_attempts() -> None:
    policy = step_retry_policy(RetrySettings())
    assert policy.initial_interval.total_seconds() == 1.0
    assert policy.backoff_coefficient == 2.0
    assert policy.maximum_interval is not None and policy.maximum_interval.total_seconds() == 60.0
    assert policy.maximum_attempts == 5


def test_schedules_of_the_prod_environment() -> None:
    from ssmd.config.load import load_environment
    from tests.deploy.helpers import ROOT

    env = load_environment(str(ROOT / "k8s" / "overlays" / "prod" / "environment.yaml"))
    schedules = schedules_for(env)
    assert set(schedules) == {"ssmd-kalshi-prod-day-start", "ssmd-kalshi-prod-day-end",
                              "ssmd-kalshi-prod-secmaster-sync"}
    start = schedules["ssmd-kalshi-prod-day-start"]
    (calendar,) = start.spec.calendars
    assert ([r.start for r in calendar.hour], [r.start for r in calendar.minute]) == ([0], [10])
    assert start.spec.time_zone_name == "UTC"
    (interval,) = schedules["ssmd-kalshi-prod-secmaster-sync"].spec.intervals
    assert interval.every.total_seconds() == env.secmaster.refresh_minutes * 60


def test_worker_command_needs_a_temporal_orchestrator(capsys: pytest.CaptureFixture[str]) -> None:
    from ssmd.cli.main import main

    assert main(["worker", "kalshi-local"]) == 2
    assert "orchestrator.type: is 'local'; `ssmd worker` needs temporal" in capsys.readouterr().err


async def test_worker_names_an_unreachable_temporal(make_env: Callable[..., Any]) -> None:
    import asyncio
    import socket

    from ssmd.errors import BackendError
    from ssmd.orchestration.worker import run_worker

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = make_env(orchestrator={"type": "temporal", "address": f"127.0.0.1:{port}"})
    with pytest.raises(BackendError, match=rf"cannot reach Temporal at 127\.0\.0\.1:{port} \(orchestrator\.address\)"):
        await asyncio.wait_for(run_worker(env, asyncio.Event(), connect_attempts=1), 60)
