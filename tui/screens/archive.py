"""Archive: inventory by day; a day's manifest, gaps and quality."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from ssmd.units import human_bytes


class ArchivePane(Vertical):
    DEFAULT_CSS = """
    ArchivePane #inventory { height: 1fr; }
    ArchivePane #manifest-box { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        table: DataTable[str] = DataTable(id="inventory", cursor_type="row", zebra_stripes=True)
        table.add_columns("date", "raw", "normalized", "status", "quality", "gaps")
        yield table
        with VerticalScroll(id="manifest-box"):
            yield Static("select a day and press enter", id="manifest")

    def show_inventory(self, days: list[dict[str, Any]]) -> None:
        table = self.query_one("#inventory", DataTable)
        table.clear()
        for day in days:
            quality = day.get("quality")
            table.add_row(
                str(day.get("date")), human_bytes(float(day.get("raw_bytes") or 0)),
                human_bytes(float(day.get("normalized_bytes") or 0)), str(day.get("status", "-")),
                "-" if quality is None else f"{float(quality):.3f}", str(day.get("gaps", 0)),
                key=str(day.get("date")),
            )

    def show_manifest(self, manifest: dict[str, Any]) -> None:
        lines = [f"[b]{manifest.get('date', '')}[/b]  status {manifest.get('status', '-')}"]
        for key in ("record_count", "byte_size", "first_timestamp", "last_timestamp", "quality_score",
                    "schema_version", "connector_version"):
            if key in manifest:
                lines.append(f"{key:18} {manifest[key]}")
        gaps = manifest.get("gaps") or []
        lines.append(f"gaps ({len(gaps)}):")
        for gap in gaps[:20]:
            lines.append(f"  {gap.get('kind', '')} {gap.get('channel', '')} {gap.get('cause', '')}".rstrip())
        self.query_one("#manifest", Static).update("\n".join(lines))

    def selected_date(self) -> str | None:
        table = self.query_one("#inventory", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return None if row_key.value is None else str(row_key.value)
