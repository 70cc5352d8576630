"""Rates derived from component counters (``ssmd.runtime.status.RateMeter``)."""

from __future__ import annotations

from ssmd.runtime.status import RateMeter


def test_rates_from_successive_samples() -> None:
    meter = RateMeter(window=5.0)
    assert meter.rates("gateway", {"trade": 0}, 0.0) == {}
    assert meter.rates("gateway", {"trade": 100}, 1.0) == {"trade": 100.0}
    assert meter.rates("gateway", {"trade": 300, "ticker": 10}, 2.0) == {"trade": 150.0, "ticker": 5.0}


def test_a_counter_that_drops_never_gives_a_negative_rate() -> None:
    # clients_sent summed over the connected clients falls when one of them leaves
    meter = RateMeter(window=5.0)
    meter.rates("gateway", {"clients_sent": 0}, 0.0)
    meter.rates("gateway", {"clients_sent": 1000}, 1.0)
    after_leave = meter.rates("gateway", {"clients_sent": 10}, 2.0)
    assert after_leave == {"clients_sent": 500.0}  # the rise before, nothing for the drop
    later = meter.rates("gateway", {"clients_sent": 40}, 3.0)
    assert later == {"clients_sent": round(1030 / 3, 3)}
    for t in range(4, 12):
        assert meter.rates("gateway", {"clients_sent": 40}, float(t))["clients_sent"] >= 0


def test_a_restarted_component_starts_over_at_zero() -> None:
    meter = RateMeter(window=2.0)
    meter.rates("connector", {"trade": 5000}, 0.0)
    assert meter.rates("connector", {"trade": 0}, 1.0) == {"trade": 0.0}
    assert meter.rates("connector", {"trade": 20}, 2.0) == {"trade": 10.0}
