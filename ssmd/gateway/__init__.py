"""The gateway: live market data to clients over WebSocket, plus REST, on one port.

Public API: ``Gateway(env, backends, *, clock)`` (a ``ssmd.component.Component`` with
``drain()``, ``clients()``, ``disconnect(client_id)``, ``ready()`` and ``url``).
Pure parts, each tested without sockets: ``protocol`` (client actions and replies),
``state`` (latest ticker, order books, recent trades), ``frames`` (WebSocket frames built
once per message), ``buffer`` (bounded per-client buffer and drop policy), ``session`` (a
client's state machine), ``router`` (fan-out). I/O: ``service`` (the component),
``endpoint`` (auth, REST routing, client lifecycle), ``rest`` (the REST answers),
``actions`` (subscribe / unsubscribe / snapshot), ``connection`` (reader + writer per
client), ``wire`` (batched frame writes), ``replay`` and ``archive`` (the catalog).
May import: ssmd core modules, ssmd.catalog (replay and archived trades, lazily);
never the connector, archiver internals or the TUI.
"""

from ssmd.gateway.service import Gateway

__all__ = ["Gateway"]
