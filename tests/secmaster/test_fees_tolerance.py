"""Syncs against the real simulator: series fees, event overrides and tick sizes reach the
stored markets and the DuckDB views; a market with odd field types does not stop a sync."""

from __future__ import annotations

import json
from pathlib import Path

from ssmd import metrics
from ssmd.archive import duck
from ssmd.config.model import Environment
from ssmd.kalshi.rest import KalshiRest
from ssmd.middleware.factory import Backends
from ssmd.resources import sql_dir
from ssmd.secmaster import history
from ssmd.secmaster.model import encode, to_dict
from ssmd.secmaster.service import SecmasterService
from ssmd.simulator.simulator import Simulator
from tests.secmaster.helpers import quiet, sim_settings

TICKS = {"linear_cent": "0.0100", "deci_cent": "0.0010", "tapered_deci_cent": "0.0010"}


def _rest(url: str) -> KalshiRest:
    return KalshiRest(url, requests_per_second=1000, delays=lambda: iter([0.02] * 100))


def _count(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_sync_stores_series_fees_event_overrides_and_tick_sizes(env: Environment, backends: Backends) -> None:
    async with Simulator(sim_settings()) as sim:
        quiet(sim)
        markets = {t: m for t, m in sim.engine.universe.markets.items() if not m.mve}
        event = next(iter(markets.values())).event
        sim.update_event_fee(event, "quadratic_with_maker_fees", 0.5)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url))
        await service.sync()
        await service.close()
    assert set(service.markets) == set(markets)
    for ticker, stored in service.markets.items():
        structure = markets[ticker].structure
        assert stored.price_level_structure == structure
        assert stored.tick_size_dollars == TICKS[structure]
        assert stored.price_ranges is not None and json.loads(stored.price_ranges)[0]["start"] == "0.0000"
        assert (stored.fee_type, stored.fee_multiplier) == ("quadratic", 1.0)
        overridden = markets[ticker].event == event
        assert stored.fee_type_override == ("quadratic_with_maker_fees" if overridden else None)
        assert stored.fee_multiplier_override == (0.5 if overridden else None)
    shown = to_dict(next(m for m in service.markets.values() if m.event_ticker == event))  # what `show` prints
    assert {"tick_size_dollars", "fee_type", "fee_multiplier", "fee_type_override"} <= set(shown)

    con = duck.connect(backends.storage)
    assert history.register_views(con, env, backends.storage)
    rows = con.execute("SELECT ticker, CAST(tick_size_dollars AS VARCHAR), effective_fee_type, "
                       "effective_fee_multiplier FROM market_history WHERE is_current ORDER BY ticker").fetchall()
    assert [(t, tick) for t, tick, _, _ in rows] == sorted(
        (t, TICKS[m.structure]) for t, m in markets.items())
    assert {(fee, mult) for t, _, fee, mult in rows if markets[t].event == event} == {
        ("quadratic_with_maker_fees", 0.5)}
    assert {(fee, mult) for t, _, fee, mult in rows if markets[t].event != event} == {("quadratic", 1.0)}

    con.execute((sql_dir() / "30_markets.sql").read_text())
    con.executemany("INSERT INTO ssmd_markets VALUES (?, CAST(? AS JSON), now())",
                    [(t, encode(m)) for t, m in service.markets.items()])
    view = con.execute("SELECT CAST(tick_size_dollars AS VARCHAR), fee_type, fee_multiplier FROM markets "
                       "WHERE ticker = ?", [shown["ticker"]]).fetchall()
    assert view == [(shown["tick_size_dollars"], "quadratic_with_maker_fees", 0.5)]


async def test_one_odd_market_is_kept_coerced_and_does_not_stop_the_sync(env: Environment,
                                                                         backends: Backends) -> None:
    async with Simulator(sim_settings()) as sim:
        quiet(sim)
        tickers = sorted(t for t, m in sim.engine.universe.markets.items() if not m.mve)
        odd = tickers[3]
        sim.odd_market(odd, settlement_timer_seconds="1800", floor_strike="13.1", title=7, price_ranges=None,
                       can_close_early="true", volume_fp=5)
        before = _count("ssmd_secmaster_field_coercions_total", kind="market", field="settlement_timer_seconds")
        titled = _count("ssmd_secmaster_field_coercions_total", kind="market", field="title")
        rest = _rest(sim.rest_url)
        service = SecmasterService(env, backends, rest=rest, page_limit=7)
        summary = await service.sync()
        await service.close()
    assert summary.total == len(tickers) and set(service.markets) == set(tickers)
    market = service.markets[odd]
    assert (market.settlement_timer_seconds, market.floor_strike, market.can_close_early) == (1800, 13.1, True)
    assert market.title == "7"  # a number where text belongs: its text
    assert market.price_ranges is None and market.tick_size_dollars is not None  # from the structure
    assert rest.stats.coercions == 5 and rest.stats.skipped == 0  # price_ranges null is allowed
    assert _count("ssmd_secmaster_field_coercions_total", kind="market",
                  field="settlement_timer_seconds") == before + 1
    assert _count("ssmd_secmaster_field_coercions_total", kind="market", field="title") == titled + 1
    others = [service.markets[t] for t in tickers if t != odd]
    assert all(m.settlement_timer_seconds == 60 for m in others)


def test_versions_written_before_the_new_columns_still_read(env: Environment, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ssmd.middleware.factory import make_storage
    from ssmd.secmaster.diff import Change
    from tests.secmaster.helpers import market

    new = {"tick_size_dollars", "price_ranges", "fee_type", "fee_multiplier", "fee_type_override",
           "fee_multiplier_override"}
    table = pq.read_table(pa.BufferReader(history.to_parquet([Change(type="market_added", ticker="KX-OLD", ts=10**18,
                                                                     market=market("KX-OLD"))])))
    old = table.drop_columns(sorted(new))
    storage = make_storage(env)
    folder = tmp_path / history.versions_prefix(env)
    folder.mkdir(parents=True)
    pq.write_table(old, folder / "00000000000000000001-000000.parquet")
    con = duck.connect(storage)
    assert history.register_views(con, env, storage)
    rows = con.execute("SELECT ticker, tick_size_dollars, fee_type, effective_fee_multiplier FROM market_history"
                       ).fetchall()
    assert rows == [("KX-OLD", None, None, None)]


async def test_a_live_event_fee_update_changes_each_market_of_the_event(env: Environment,
                                                                         backends: Backends) -> None:
    import msgspec

    from ssmd.kalshi import wire
    from ssmd.kalshi.normalize import normalize
    from ssmd.records import Lifecycle

    def update(event: str, fee_type: str | None, multiplier: float | None) -> Lifecycle:
        frame = msgspec.json.encode({"type": "event_fee_update", "sid": 3, "seq": 9, "msg": {
            "event_ticker": event, "fee_type_override": fee_type, "fee_multiplier_override": multiplier}})
        records = normalize(wire.decode(frame), 1)
        assert isinstance(records, list) and isinstance(records[0], Lifecycle)
        return records[0]

    async with Simulator(sim_settings()) as sim:
        quiet(sim)
        service = SecmasterService(env, backends, rest=_rest(sim.rest_url))
        await service.sync()
        await service.close()
    event = next(iter(service.markets.values())).event_ticker
    mine = sorted(t for t, m in service.markets.items() if m.event_ticker == event)
    first = await service.apply_lifecycle(update(event, "flat", 0.25))
    assert first is not None and first.ticker == mine[0] and set(first.changes) == {
        "fee_type_override", "fee_multiplier_override"}
    for ticker, m in service.markets.items():
        expected = ("flat", 0.25) if ticker in mine else (None, None)
        assert (m.fee_type_override, m.fee_multiplier_override) == expected
    assert await service.apply_lifecycle(update(event, "flat", 0.25)) is None  # nothing new
    assert await service.apply_lifecycle(update(event, None, None)) is not None  # cleared
    assert all(m.fee_type_override is None for m in service.markets.values())
