"""Overview: components, message rates with sparklines, lag, gaps, day and archive."""

from __future__ import annotations

import time
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Label, Sparkline, Static

from ssmd.status import ComponentStatus, DayInfo, SystemStatus
from tui.rates import RateTracker, format_duration, format_rate


def _component_row(c: ComponentStatus) -> tuple[str, ...]:
    lag = "-" if c.lag_seconds is None else f"{c.lag_seconds:.2f}s"
    return (c.name, c.state, format_duration(c.uptime_seconds), str(c.restarts), str(c.errors), lag,
            (c.last_error or "")[:40])


class RateRow(Horizontal):
    """One message type: its current rate and a sparkline of the last minute."""

    DEFAULT_CSS = """
    RateRow { height: 1; }
    RateRow Label { width: 28; }
    RateRow Sparkline { width: 1fr; }
    """

    def __init__(self, key: str, rates: RateTracker) -> None:
        super().__init__(id=f"rate-{key}".replace("_", "-").replace(".", "-"))
        self.key = key
        self.rates = rates

    def compose(self) -> ComposeResult:
        yield Label(self._label())
        yield Sparkline(self.rates.series(self.key) or [0.0], summary_function=max)

    def _label(self) -> str:
        return f"{self.key:<18} {format_rate(self.rates.rate(self.key)):>8}"

    def show(self) -> None:
        if not self.children:
            return  # not composed yet: compose() reads the latest values
        self.query_one(Label).update(self._label())
        self.query_one(Sparkline).data = self.rates.series(self.key) or [0.0]


class OverviewPane(Vertical):
    DEFAULT_CSS = """
    OverviewPane #day { height: 1; }
    OverviewPane #components { height: auto; max-height: 9; }
    OverviewPane #rates { height: auto; max-height: 7; }
    OverviewPane #facts { height: auto; }
    """

    def __init__(self, rates: RateTracker) -> None:
        super().__init__(id="overview")
        self.rates = rates

    def compose(self) -> ComposeResult:
        yield Static("day: -", id="day")
        table: DataTable[str] = DataTable(id="components", cursor_type="row", zebra_stripes=True)
        table.add_columns("component", "state", "uptime", "restarts", "errors", "lag", "last error")
        yield table
        yield VerticalScroll(id="rates")
        yield Static("", id="facts")

    def show(self, status: SystemStatus) -> None:
        day = status.day
        step = f" ({day.step})" if day.step else ""
        error = f"  error: {day.error}" if day.error else ""
        progress = day_progress(day, status.ts)
        self.query_one("#day", Static).update(
            f"{status.env}  day {day.date or '-'}: [b]{day.state}[/b]{step}{progress}{error}")
        table = self.query_one("#components", DataTable)
        table.clear()
        for component in status.components:
            table.add_row(*_component_row(component), key=component.name)
        self._show_rates()
        self.query_one("#facts", Static).update(_facts(status))

    def _show_rates(self) -> None:
        box = self.query_one("#rates", VerticalScroll)
        existing = {row.key: row for row in box.query(RateRow)}
        for key in self.rates.names():
            if key in existing:
                existing[key].show()
            else:
                box.mount(RateRow(key, self.rates))


def day_progress(day: DayInfo, now_ns: int, width: int = 12) -> str:
    """``  [█████░░░░░░░] 41%, ends 00:00 UTC`` while the day runs by its schedule."""
    if not day.starts_at or not day.ends_at or day.ends_at <= day.starts_at or day.state != "ACTIVE":
        return ""
    done = min(1.0, max(0.0, (now_ns - day.starts_at) / (day.ends_at - day.starts_at)))
    filled = round(done * width)
    end = time.strftime("%H:%M", time.gmtime(day.ends_at / 1e9))
    return f"  [{'█' * filled}{'░' * (width - filled)}] {done:.0%}, ends {end} UTC"


def _reading(connections: list[dict[str, Any]]) -> str:
    """``  buffered 20000 frames  READING PAUSED (publisher behind)  read pauses 3``: the frames
    between socket and bus, and whether (and how often) reading has paused for the bus."""
    buffered = sum(int(c.get("buffered", 0)) for c in connections)
    pauses = sum(int(c.get("read_pauses", 0)) for c in connections)
    text = f"  buffered {buffered} frames" if connections else ""
    if any(c.get("reading_paused") for c in connections):
        text += "  [b]READING PAUSED[/b] (publisher behind)"
    if pauses:
        text += f"  read pauses {pauses}"
    return text


def _facts(status: SystemStatus) -> str:
    by_name = {c.name: c for c in status.components}
    parts = []
    connector = by_name.get("connector")
    if connector is not None:
        lag = "-" if connector.lag_seconds is None else f"{connector.lag_seconds:.3f}s"
        reconnects = connector.restarts
        parts.append(f"connector lag {lag}  reconnects {reconnects}  errors {connector.errors}"
                     + _reading(connector.details.get("connections") or []))
    parts.append(f"gaps {len(status.gaps)}" + (f" (last: {status.gaps[-1].channel} {status.gaps[-1].kind})"
                                                if status.gaps else ""))
    archiver = by_name.get("archiver")
    if archiver is not None:
        written = int(archiver.details.get("bytes_written", 0))
        flushed = str(archiver.details.get("last_flush") or "-")[11:19] or "-"
        buffered = archiver.details.get("buffered_records", 0)
        parts.append(f"archive {written / 1e6:.1f} MB written  last flush {flushed}  buffered {buffered}")
    parts.append(f"clients {len(status.clients)}")
    for name, url in sorted(status.endpoints.items()):
        parts.append(f"{name}: {url}")
    return "\n".join(parts)
