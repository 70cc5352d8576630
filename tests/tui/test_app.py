"""The TUI against a scripted source: what an operator sees and what the keys do."""

from __future__ import annotations

from textual.widgets import DataTable, RichLog, Sparkline, Static

from tests.tui.fake import FakeSource
from tui.app import make_app
from tui.screens.overview import RateRow
from tui.widgets import ConfirmScreen, HelpScreen


def text(widget: Static) -> str:
    return str(widget.render())


async def test_overview_shows_components_day_and_rising_rates() -> None:
    source = FakeSource()
    app = make_app(source, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one("#components", DataTable)
        assert table.row_count == 4
        assert table.get_row("secmaster")[1] == "failed"
        assert "ACTIVE  [███░░░░░░░░░] 25%, ends 09:45 UTC" in text(app.query_one("#day", Static))
        source.tick = 1
        await app.refresh_status()
        source.tick = 2
        await app.refresh_status()
        await pilot.pause()
        assert app.rates.rate("trade") == 40.0 and app.rates.rate("ticker") == 200.0
        rows = {row.key: row for row in app.query(RateRow)}
        assert set(rows) == {"trade", "ticker", "archived.trade"}  # bookkeeping counters are not charted
        assert rows["trade"].query_one(Sparkline).data == [40.0, 40.0]
        facts = text(app.query_one("#facts", Static))
        assert "reconnects 1" in facts and "gaps 1" in facts and "ws://127.0.0.1:8765" in facts
        assert "2.5 MB written  last flush 09:41:02  buffered 12" in facts
        assert "buffered 4 frames" in facts and "PAUSED" not in facts and "read pauses" not in facts


async def test_overview_says_when_the_connector_has_paused_reading_the_exchange() -> None:
    source = FakeSource()
    source.behind = True
    app = make_app(source, poll=False)
    async with app.run_test(size=(100, 24)):
        facts = text(app.query_one("#facts", Static))
        assert "buffered 20000 frames  READING PAUSED (publisher behind)  read pauses 3" in facts


async def test_banner_when_process_goes_away_and_comes_back() -> None:
    source = FakeSource()
    app = make_app(source, poll=False)
    async with app.run_test(size=(80, 24)):
        banner = app.query_one("#banner", Static)
        assert not banner.has_class("down")
        source.down = True
        await app.refresh_status()
        assert banner.has_class("down") and "not reachable" in text(banner)
        assert app.reachable is False
        source.down = False
        await app.refresh_status()
        assert not banner.has_class("down") and app.reachable is True


async def test_disconnect_client_asks_first() -> None:
    source = FakeSource()
    app = make_app(source, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        table = app.query_one("#clients", DataTable)
        assert table.get_row("c2")[-1] == "SLOW"
        table.focus()
        await pilot.press("down", "d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert source.disconnected == []
        await pilot.press("d", "y")
        await pilot.pause()
        assert source.disconnected == ["c2"]


async def test_end_day_needs_confirmation() -> None:
    source = FakeSource()
    app = make_app(source, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("E")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert source.ended == 0
        await pilot.press("E", "y")
        await pilot.pause()
        assert source.ended == 1


async def test_markets_search_and_detail() -> None:
    app = make_app(FakeSource(), poll=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("2")
        await app.workers.wait_for_complete()
        markets = app.query_one("#market-list", DataTable)
        assert markets.row_count == 2
        app.query_one("#market-search").focus()
        await pilot.press(*"crypto", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert markets.row_count == 1
        markets.focus()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        book = app.query_one("#book", DataTable)
        assert book.get_row_at(0) == ["120.00", "0.6100", "0.6300", "40.00"]
        assert book.get_row_at(1) == ["5.50", "0.6000", "", ""]
        assert app.query_one("#trades", DataTable).get_row_at(0) == ["15:45:00.544", "0.9990", "0.11", "yes"]
        assert "KXBTCD-26JUL2317-T118999.99" in text(app.query_one("#market-summary", Static))


async def test_archive_inventory_and_manifest() -> None:
    app = make_app(FakeSource(), poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await app.workers.wait_for_complete()
        table = app.query_one("#inventory", DataTable)
        assert table.get_row("2026-07-19")[1:4] == ["2.9 MB", "878.9 KB", "complete"]
        table.focus()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        manifest = text(app.query_one("#manifest", Static))
        assert "record_count       12345" in manifest and "close 1011" in manifest


async def test_replay_plays_through_source() -> None:
    source = FakeSource()
    app = make_app(source, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        app.query_one("#replay-date").focus()
        await pilot.press(*"2026-07-19", "tab", *"INXD-25-B4000", "tab")
        await pilot.click("#replay-play")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert source.replayed == [("2026-07-19", ["INXD-25-B4000"], 10.0)]
        log = app.query_one("#replay-log", RichLog)
        assert len(log.lines) == 3
        assert "done: 3 messages" in str(app.query_one("#replay-state").render())


async def test_help_overlay() -> None:
    app = make_app(FakeSource(), poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
