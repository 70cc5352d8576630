"""The Kalshi connector: WebSocket in, raw frames and normalized records out.

``Connector(env, backends)`` (``service``) plans subscriptions (``ssmd.kalshi.subscriptions``),
runs one ``Connection`` per shard (``connection``: connect with signed headers, subscribe,
read on its own task, detect staleness, reconnect with backoff), and hands every frame to
the ``FramePipeline`` (``pipeline``: decode, seq check, normalize, publish raw + records,
dead-letter problems). Protocol state of one connection lives in ``session``; gaps and
outages in ``gaps``; counters and metrics in ``stats``.

Exchange-neutral: what a Kalshi frame means (its type, sid, seq, channel) is asked of
``ssmd.kalshi.classify``. The connector never starts or finds the simulator: the runtime
passes its URL in (``endpoints.ws``).

May import: ssmd core modules, ssmd.kalshi, ssmd.middleware (interfaces). Never ssmd.simulator.
"""

from ssmd.connector.service import Connector
from ssmd.connector.settings import ConnectorSettings

__all__ = ["Connector", "ConnectorSettings"]
