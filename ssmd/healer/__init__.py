"""The healer: fills the trade gaps the live feed left, from Kalshi's REST API.

When the connector records an outage, a seq hole or a refused subscription on the trade
channel, the gap reaches the healer on ``{env}.{feed}.gaps``. Once the gap has closed and
the live trades around it are archived (``settle_seconds``), the healer reads the
affected markets' trades over the gap's window from ``GET /markets/trades``, drops the
ones the archive already holds (by ``trade_id``), publishes the rest as trade records
with ``source='rest'`` (the archiver writes them like any other), and publishes the gap
again with ``healed`` filled in, which the archiver merges into the day's manifest.

Order-book and ticker gaps are not healed here: both are state, restored by the fresh
snapshot (or ticker update) every resubscription brings.

May import: ssmd core modules, ssmd.kalshi (REST client), ``ssmd.archive`` (layout and
the column contract), ``ssmd.codec``, ``ssmd.secmaster`` (the REST URL), the middleware
interfaces; never the archiver, connector, gateway, CLI or TUI.
"""

from ssmd.healer.service import Healer

__all__ = ["Healer"]
