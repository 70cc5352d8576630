"""The archiver process's metrics on the parent's ``/metrics``.

The child sends its registry as Prometheus text now and then (``snapshot``); the parent's
``Relay`` serves the families only the archiver writes (``ssmd_archiver_*``) as the child
last reported them, in place of the parent's own, idle, objects (``relayed`` swaps them for
the life of the archiver process). The families the archiver shares with the parent's
components get the child's part folded into the parent's objects: the storage circuit
breaker (a gauge: set) and the archiver's dead letters (a counter: increased by what the
child added since its last report). A restarted child starts its counters from zero, as a
restarted process does; Prometheus's ``rate()`` reads that as a reset.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ssmd import metrics
from ssmd.log import get_logger

OWNED: tuple[Any, ...] = (
    metrics.ARCHIVER_BYTES_WRITTEN, metrics.ARCHIVER_FILES_WRITTEN, metrics.ARCHIVER_RECORDS_WRITTEN,
    metrics.ARCHIVER_LAG, metrics.ARCHIVER_FLUSH_SECONDS, metrics.ARCHIVER_BUFFERED, metrics.ARCHIVER_WRITE_ERRORS,
)
"""The metrics only the archiver writes: in the parent they would stay at zero."""
_OWNED_NAMES = frozenset(
    name for m in OWNED for family in m.describe() for name in (family.name, f"{family.name}_created"))
"""Their families as Prometheus text names them (a counter's or histogram's ``_created``
gauge is a family of its own there)."""
log = get_logger("archiver")
_BREAKER = "ssmd_circuit_breaker_open"
_DEAD_LETTERS = "ssmd_dead_letters_total"


def snapshot() -> str:
    """The child's registry as Prometheus text."""
    return generate_latest(metrics.REGISTRY).decode()


class Relay:
    """A Prometheus collector of the child's archiver families, fed by ``update``."""

    def __init__(self) -> None:
        self._families: list[Any] = []
        self._dead_letters = 0.0
        """The child's archiver dead letters as last reported (what was folded in)."""

    def restarted(self) -> None:
        """A new child: nothing reported yet, and its counters start again from zero."""
        self._families = []
        self._dead_letters = 0.0

    def update(self, text: str) -> None:
        """Take the child's latest ``snapshot``; a malformed one is ignored whole."""
        try:
            families = list(text_string_to_metric_families(text))
        except Exception as exc:  # metrics never stop the archiving: keep the last good snapshot
            log.warning("archiver process metrics unreadable", error=f"{type(exc).__name__}: {exc}")
            return
        self._families = [f for f in families if f.name in _OWNED_NAMES]
        for sample in (s for f in families for s in f.samples):
            if sample.name == _BREAKER and sample.labels.get("dependency") == "storage":
                metrics.CIRCUIT_BREAKER_OPEN.labels("storage").set(sample.value)
            elif sample.name == _DEAD_LETTERS and sample.labels.get("component") == "archiver":
                added = sample.value - self._dead_letters if sample.value >= self._dead_letters else sample.value
                if added > 0:
                    metrics.DEAD_LETTERS.labels("archiver").inc(added)
                self._dead_letters = sample.value

    def describe(self) -> Iterable[Any]:
        return []  # the names are the parent's own, unregistered while this one serves them

    def collect(self) -> Iterable[Any]:
        if self._families:
            return list(self._families)
        return [family for metric in OWNED for family in metric.collect()]  # no report yet: the idle ones


@contextlib.contextmanager
def relayed(relay: Relay) -> Iterator[Relay]:
    """Serve ``relay`` instead of the parent's archiver-only metrics until the block ends."""
    registry = metrics.REGISTRY
    for metric in OWNED:
        registry.unregister(metric)
    registry.register(relay)
    try:
        yield relay
    finally:
        registry.unregister(relay)
        for metric in OWNED:
            registry.register(metric)
