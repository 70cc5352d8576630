"""A few pixel snapshots at 80x24 (regenerate with `pytest tests/tui --snapshot-update`)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from tests.tui.fake import FakeSource
from tui.app import SsmdApp, make_app


async def _ticked(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, SsmdApp)
    source = app.source
    assert isinstance(source, FakeSource)
    for tick in (1, 2, 3):
        source.tick = tick
        await app.refresh_status()
    await pilot.pause()


def test_overview_snapshot(snap_compare: Any) -> None:
    assert snap_compare(make_app(FakeSource(), poll=False), terminal_size=(80, 24), run_before=_ticked)


def test_clients_snapshot(snap_compare: Any) -> None:
    assert snap_compare(make_app(FakeSource(), poll=False), press=["3"], terminal_size=(80, 24))


def test_confirm_snapshot(snap_compare: Any) -> None:
    assert snap_compare(make_app(FakeSource(), poll=False), press=["E"], terminal_size=(80, 24))
