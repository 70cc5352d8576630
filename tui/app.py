"""The ssmd TUI application, built by ``make_app(source)``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Button, DataTable, Footer, Header, Static, TabbedContent, TabPane

from ssmd.status import SystemStatus
from tui.rates import RateTracker
from tui.screens.archive import ArchivePane
from tui.screens.clients import ClientsPane
from tui.screens.markets import MarketsPane
from tui.screens.overview import OverviewPane
from tui.screens.replay import ReplayPane
from tui.source import SourceDown, StatusSource
from tui.widgets import ConfirmScreen, HelpScreen

TABS = ("overview", "markets", "clients", "archive", "replay")
_BOOKKEEPING = frozenset({"published", "dead_letters", "duplicates", "discarded", "subscribed", "ok",
                          "unsubscribed", "error", "control"})


def message_counters(status: SystemStatus) -> dict[str, int]:
    """The counters the overview charts: messages received by type (the connector's), and
    records written by type (the archiver's, as ``archived.{type}``)."""
    out: dict[str, int] = {}
    for component in status.components:
        for key, value in component.counters.items():
            if component.name == "connector" and "." not in key and key not in _BOOKKEEPING:
                out[key] = value
            elif component.name == "archiver" and key in ("trade", "ticker", "orderbook", "lifecycle"):
                out[f"archived.{key}"] = value
    return out


class SsmdApp(App[None]):
    TITLE = "ssmd"
    CSS = """
    #banner { height: auto; background: $error; color: $text; padding: 0 1; display: none; }
    #banner.down { display: block; }
    """
    BINDINGS = [
        Binding("1", "tab('overview')", "Overview"),
        Binding("2", "tab('markets')", "Markets"),
        Binding("3", "tab('clients')", "Clients"),
        Binding("4", "tab('archive')", "Archive"),
        Binding("5", "tab('replay')", "Replay"),
        Binding("r", "refresh", "Refresh"),
        Binding("d", "disconnect", "Disconnect", show=False),
        Binding("E", "end_day", "End day", show=False),
        Binding("space", "pause", "Pause", show=False),
        Binding("slash", "focus_search", "Search", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, source: StatusSource, *, refresh: float = 1.0, poll: bool = True) -> None:
        super().__init__()
        self.source = source
        self.refresh_seconds = refresh
        self.poll = poll
        self.rates = RateTracker()
        self.status: SystemStatus | None = None
        self.reachable: bool | None = None
        self.replay_paused = asyncio.Event()
        self.replay_paused.set()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="banner")
        with TabbedContent(initial="overview-tab", id="tabs"):
            with TabPane("Overview", id="overview-tab"):
                yield OverviewPane(self.rates)
            with TabPane("Markets", id="markets-tab"):
                yield MarketsPane()
            with TabPane("Clients", id="clients-tab"):
                yield ClientsPane()
            with TabPane("Archive", id="archive-tab"):
                yield ArchivePane()
            with TabPane("Replay", id="replay-tab"):
                yield ReplayPane()
        yield Footer()

    async def on_mount(self) -> None:
        await self.refresh_status()
        if self.poll:
            self.set_interval(self.refresh_seconds, self.refresh_status)

    async def refresh_status(self) -> None:
        try:
            status = await self.source.status()
        except SourceDown as exc:
            self._set_reachable(False, str(exc))
            return
        self._set_reachable(True, "")
        self.status = status
        self.rates.add(status.ts / 1e9 if status.ts else time.time(), message_counters(status))
        self.sub_title = f"{status.env} — day {status.day.state}"
        self.query_one(OverviewPane).show(status)
        self.query_one(ClientsPane).show(status.clients)

    def _set_reachable(self, up: bool, reason: str) -> None:
        banner = self.query_one("#banner", Static)
        if up:
            banner.remove_class("down")
            if self.reachable is False:
                self.notify("reconnected to ssmd")
        else:
            banner.update(f"ssmd is not reachable — retrying every {self.refresh_seconds:g}s ({reason})")
            banner.add_class("down")
        self.reachable = up

    def action_tab(self, name: str) -> None:
        self.query_one("#tabs", TabbedContent).active = f"{name}-tab"
        if name == "markets":
            self.action_search_markets("")
        elif name == "archive":
            self.load_inventory()

    async def action_refresh(self) -> None:
        await self.refresh_status()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_focus_search(self) -> None:
        self.action_tab("markets")
        self.query_one("#market-search").focus()

    @work(exclusive=True, group="markets")
    async def action_search_markets(self, query: str) -> None:
        try:
            rows = await self.source.markets(query)
        except SourceDown as exc:
            self.notify(str(exc), severity="error")
            return
        self.query_one(MarketsPane).show_markets(rows)

    @work(exclusive=True, group="market")
    async def load_market(self, ticker: str) -> None:
        try:
            detail = await self.source.market(ticker)
        except SourceDown as exc:
            self.notify(str(exc), severity="error")
            return
        detail.setdefault("symbol", ticker)
        self.query_one(MarketsPane).show_market(detail)

    @work(exclusive=True, group="archive")
    async def load_inventory(self) -> None:
        try:
            days = await self.source.inventory()
        except SourceDown as exc:
            self.notify(str(exc), severity="error")
            return
        self.query_one(ArchivePane).show_inventory(days)

    @work(exclusive=True, group="manifest")
    async def load_manifest(self, date: str) -> None:
        try:
            manifest = await self.source.manifest(date)
        except SourceDown as exc:
            self.notify(str(exc), severity="error")
            return
        self.query_one(ArchivePane).show_manifest(manifest)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key is None:
            return
        if event.data_table.id == "market-list":
            self.load_market(str(key))
        elif event.data_table.id == "inventory":
            self.load_manifest(str(key))

    def action_disconnect(self) -> None:
        client = self.query_one(ClientsPane).selected()
        if client is None:
            self.notify("no client selected")
            return

        async def answered(yes: bool | None) -> None:
            if yes:
                try:
                    await self.source.disconnect_client(client)
                    self.notify(f"disconnected {client}")
                except SourceDown as exc:
                    self.notify(str(exc), severity="error")
                await self.refresh_status()

        self.push_screen(ConfirmScreen(f"Disconnect client {client}?"), answered)

    def action_end_day(self) -> None:
        async def answered(yes: bool | None) -> None:
            if yes:
                try:
                    state = await self.source.end_day()
                    self.notify(f"day {state}")
                except SourceDown as exc:
                    self.notify(str(exc), severity="error")
                await self.refresh_status()

        day = self.status.day.date if self.status else None
        self.push_screen(ConfirmScreen(f"End the trading day {day or ''}? Clients are drained."), answered)

    @on(Button.Pressed, "#replay-play")
    def _play(self) -> None:
        date, symbols, speed = self.query_one(ReplayPane).request()
        if not date:
            self.notify("enter a date (YYYY-MM-DD)", severity="warning")
            return
        self.replay_paused.set()
        self.run_replay(date, symbols, speed)

    def action_pause(self) -> None:
        pane = self.query_one(ReplayPane)
        if self.replay_paused.is_set():
            self.replay_paused.clear()
            pane.set_state("paused (space to resume)")
        else:
            self.replay_paused.set()
            pane.set_state("playing")

    @work(exclusive=True, group="replay")
    async def run_replay(self, date: str, symbols: list[str], speed: float) -> None:
        pane = self.query_one(ReplayPane)
        pane.set_state(f"playing {date} {','.join(symbols)} at {speed:g}x" if speed else f"playing {date} at max")
        count = 0
        try:
            async for message in self.source.replay(date, symbols, speed):
                await self.replay_paused.wait()
                pane.add(message)
                count += 1
        except SourceDown as exc:
            pane.set_state(f"replay failed: {exc}")
            return
        pane.set_state(f"done: {count} messages")


def make_app(source: StatusSource, *, refresh: float = 1.0, poll: bool = True) -> SsmdApp:
    """Build the TUI around a data source (``tui.source.HttpStatusSource`` or a fake)."""
    return SsmdApp(source, refresh=refresh, poll=poll)


def run(source: StatusSource, **options: Any) -> None:
    make_app(source, **options).run()
