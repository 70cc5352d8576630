"""The archiver process's metrics folded into the parent's registry (``ssmd.workers.relay``)."""

from __future__ import annotations

from ssmd import metrics
from ssmd.workers.relay import Relay, relayed


def _child(dead_letters: float, breaker: float, lag: float = 0.5) -> str:
    return f"""# HELP ssmd_dead_letters_total Messages sent to a dead-letter subject, by component.
# TYPE ssmd_dead_letters_total counter
ssmd_dead_letters_total{{component="archiver"}} {dead_letters}
# HELP ssmd_circuit_breaker_open 1 while a dependency is unreachable.
# TYPE ssmd_circuit_breaker_open gauge
ssmd_circuit_breaker_open{{dependency="storage"}} {breaker}
# HELP ssmd_archiver_lag_seconds Age of the oldest record not yet durably written.
# TYPE ssmd_archiver_lag_seconds gauge
ssmd_archiver_lag_seconds {lag}
"""


def _value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_shared_families_get_the_childs_part_and_a_restart_counts_from_zero() -> None:
    relay = Relay()
    before = _value("ssmd_dead_letters_total", component="archiver")
    relay.update(_child(3, 1))
    assert _value("ssmd_dead_letters_total", component="archiver") == before + 3
    assert _value("ssmd_circuit_breaker_open", dependency="storage") == 1
    relay.update(_child(5, 0))
    assert _value("ssmd_dead_letters_total", component="archiver") == before + 5
    assert _value("ssmd_circuit_breaker_open", dependency="storage") == 0
    relay.restarted()  # a new child reports from zero
    relay.update(_child(1, 0))
    assert _value("ssmd_dead_letters_total", component="archiver") == before + 6
    relay.update("this is not Prometheus text {")
    assert _value("ssmd_dead_letters_total", component="archiver") == before + 6


def test_while_relayed_the_archiver_families_are_the_childs() -> None:
    relay = Relay()
    with relayed(relay):
        metrics.ARCHIVER_LAG.set(0.0)
        names = [f.name for f in metrics.REGISTRY.collect()]
        assert names.count("ssmd_archiver_lag_seconds") == 1  # before the first report: served, idle
        relay.update(_child(0, 0, lag=7.25))
        assert _value("ssmd_archiver_lag_seconds") == 7.25
        assert [f.name for f in metrics.REGISTRY.collect()].count("ssmd_archiver_lag_seconds") == 1
    metrics.ARCHIVER_LAG.set(0.125)  # the parent's own object serves again
    assert _value("ssmd_archiver_lag_seconds") == 0.125
    metrics.ARCHIVER_LAG.set(0)
