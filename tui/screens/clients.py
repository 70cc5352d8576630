"""Clients: gateway clients with mode, buffer use, lag and drops."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ssmd.status import ClientInfo


class ClientsPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("gateway clients — d: disconnect the selected one", id="clients-title")
        table: DataTable[str] = DataTable(id="clients", cursor_type="row", zebra_stripes=True)
        table.add_columns("id", "peer", "mode", "symbols", "buffer", "lag", "sent", "dropped", "slow")
        yield table

    def show(self, clients: list[ClientInfo]) -> None:
        table = self.query_one("#clients", DataTable)
        selected = self.selected()
        table.clear()
        for c in clients:
            table.add_row(c.id, c.peer, c.mode, str(c.symbols), f"{c.buffer_utilisation:.0%} ({c.buffered})",
                          f"{c.lag_seconds:.3f}s", str(c.sent), str(c.dropped), "SLOW" if c.slow else "",
                          key=c.id)
        if selected is not None and selected in {c.id for c in clients}:
            table.move_cursor(row=table.get_row_index(selected))

    def selected(self) -> str | None:
        table = self.query_one("#clients", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return None if row_key.value is None else str(row_key.value)
