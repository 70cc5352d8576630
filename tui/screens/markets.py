"""Markets: secmaster browse and search; a market's ticker, order book and trades."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Static


class MarketsPane(Vertical):
    DEFAULT_CSS = """
    MarketsPane #market-list { height: 1fr; }
    MarketsPane #market-detail { height: 2fr; }
    MarketsPane #market-summary { height: auto; }
    MarketsPane #book, MarketsPane #trades { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search markets (ticker, title, category) and press enter", id="market-search")
        markets: DataTable[str] = DataTable(id="market-list", cursor_type="row", zebra_stripes=True)
        markets.add_columns("ticker", "status", "category", "title")
        yield markets
        with Vertical(id="market-detail"):
            yield Static("select a market", id="market-summary")
            with Horizontal():
                book: DataTable[str] = DataTable(id="book", cursor_type="none")
                book.add_columns("bid size", "bid", "ask", "ask size")
                yield book
                trades: DataTable[str] = DataTable(id="trades", cursor_type="none")
                trades.add_columns("time", "price", "size", "side")
                yield trades

    def show_markets(self, rows: list[dict[str, Any]]) -> None:
        table = self.query_one("#market-list", DataTable)
        table.clear()
        for row in rows[:500]:
            ticker = str(row.get("ticker", ""))
            table.add_row(ticker, str(row.get("status", "")), str(row.get("category", "") or ""),
                          str(row.get("title", "") or "")[:60], key=ticker)

    def show_market(self, detail: dict[str, Any]) -> None:
        latest: dict[str, Any] = detail.get("latest") or {}
        if isinstance(detail.get("ticker"), dict):
            latest = detail["ticker"]
        title = detail.get("title") or detail.get("market", {}).get("title", "")
        summary = (
            f"[b]{detail.get('ticker_symbol') or detail.get('symbol') or latest.get('ticker', '')}[/b]  {title}\n"
            f"last {latest.get('price') or '-'}  bid {latest.get('yes_bid') or '-'}"
            f"  ask {latest.get('yes_ask') or '-'}  volume {latest.get('volume') or '-'}"
        )
        self.query_one("#market-summary", Static).update(summary)
        book = detail.get("book") or {}
        bids, asks = list(book.get("bids", [])), list(book.get("asks", []))
        table = self.query_one("#book", DataTable)
        table.clear()
        for i in range(min(15, max(len(bids), len(asks)))):
            bid = bids[i] if i < len(bids) else ["", ""]
            ask = asks[i] if i < len(asks) else ["", ""]
            table.add_row(str(bid[1]), str(bid[0]), str(ask[0]), str(ask[1]))
        trades = self.query_one("#trades", DataTable)
        trades.clear()
        for trade in list(detail.get("trades") or [])[-15:][::-1]:
            ts = str(trade.get("ts", ""))
            trades.add_row(ts[11:23], str(trade.get("price", "")), str(trade.get("size", "")),
                           str(trade.get("side", "")))

    @on(Input.Submitted, "#market-search")
    def _search(self, event: Input.Submitted) -> None:
        self.app.call_later(self.app.action_search_markets, event.value)  # type: ignore[attr-defined]
