"""Replay: pick a day and symbols, play through the gateway at a chosen speed, pause."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, RichLog


def describe(message: dict[str, Any]) -> str:
    kind = message.get("type", "?")
    ts = str(message.get("ts", ""))[11:23]
    if kind == "trade":
        side, size, price = message.get("side"), message.get("size"), message.get("price")
        return f"{ts} trade  {message.get('ticker')} {side} {size} @ {price}"
    if kind == "ticker":
        return f"{ts} ticker {message.get('ticker')} {message.get('yes_bid')}/{message.get('yes_ask')}"
    if kind == "orderbook":
        bids, asks = message.get("bids") or [], message.get("asks") or []
        top = f"{bids[0][0] if bids else '-'}/{asks[0][0] if asks else '-'}"
        return f"{ts} book   {message.get('ticker')} {top}"
    return f"{ts} {kind} {message.get('ticker', '')} {message.get('event_type', message.get('message', ''))}"


class ReplayPane(Vertical):
    DEFAULT_CSS = """
    ReplayPane #replay-form { height: 3; }
    ReplayPane #replay-form Input { width: 1fr; }
    ReplayPane #replay-state { height: 1; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal(id="replay-form"):
            yield Input(placeholder="date YYYY-MM-DD", id="replay-date")
            yield Input(placeholder="symbols A,B or *", id="replay-symbols")
            yield Input(value="10", placeholder="speed", id="replay-speed")
            yield Button("Play", id="replay-play", variant="primary")
        yield Label("idle", id="replay-state")
        yield RichLog(id="replay-log", max_lines=2000)

    def request(self) -> tuple[str, list[str], float]:
        date = self.query_one("#replay-date", Input).value.strip()
        symbols = [s.strip() for s in self.query_one("#replay-symbols", Input).value.split(",") if s.strip()]
        speed_text = self.query_one("#replay-speed", Input).value.strip() or "1"
        speed = float(speed_text.rstrip("x")) if speed_text != "max" else 0.0
        return date, symbols or ["*"], speed

    def set_state(self, text: str) -> None:
        self.query_one("#replay-state", Label).update(text)

    def add(self, message: dict[str, Any]) -> None:
        self.query_one("#replay-log", RichLog).write(describe(message))
