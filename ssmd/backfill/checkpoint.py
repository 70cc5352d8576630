"""Which windows a backfill has finished: one small JSON object per (dataset, ticker, tier).

Stored beside the archive, outside the Parquet tree (the catalog never indexes it)::

    {normalized bucket}/{env}/{feed}/backfill/{what}/{tier}/{ticker}.json

``what`` is ``trades`` or ``candles-{period}``. The object lists the merged ``[start, end)``
windows (ns) whose rows are durably in the archive; it is written only after those rows,
and ``Storage.put`` is atomic, so a run killed at any point leaves a checkpoint that never
claims more than is written. What it does not claim is fetched again and de-duplicated
against the archive.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

import msgspec

from ssmd.backfill.plan import Interval, Tier, merge
from ssmd.config.model import Environment
from ssmd.errors import DataError

if TYPE_CHECKING:
    from ssmd.middleware.storage.base import Storage


class Checkpoint(msgspec.Struct, kw_only=True):
    what: str
    ticker: str
    tier: Tier
    done: list[tuple[int, int]] = []
    """Merged completed windows, ns."""
    updated_at: int = 0

    def add(self, window: Interval, now_ns: int) -> None:
        self.done = merge([*self.done, window])
        self.updated_at = now_ns


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Checkpoint)


def root(env: Environment) -> str:
    return f"{env.storage.buckets.normalized}/{env.name}/{env.feed}/backfill"


def path(env: Environment, what: str, tier: str, ticker: str) -> str:
    return f"{root(env)}/{what}/{tier}/{quote(ticker, safe='-._')}.json"


def parse_path(env: Environment, text: str) -> tuple[str, str, str] | None:
    """(what, tier, ticker) of a checkpoint path, or None."""
    prefix = root(env) + "/"
    if not text.startswith(prefix) or not text.endswith(".json"):
        return None
    parts = text[len(prefix):-len(".json")].split("/")
    return (parts[0], parts[1], unquote(parts[2])) if len(parts) == 3 else None


def encode(cp: Checkpoint) -> bytes:
    return _encoder.encode(cp)


def decode(data: bytes, where: str) -> Checkpoint:
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DataError(f"{where}: not a backfill checkpoint ({exc})") from None


class Checkpoints:
    """The checkpoints of one run, loaded once, saved as chunks complete."""

    def __init__(self, env: Environment, storage: Storage) -> None:
        self.env = env
        self.storage = storage
        self.items: dict[tuple[str, str, str], Checkpoint] = {}

    async def load(self, tickers: Iterable[str]) -> None:
        wanted = set(tickers)
        for info in await self.storage.list(root(self.env) + "/"):
            key = parse_path(self.env, info.path)
            if key is None or key[2] not in wanted:
                continue
            self.items[key] = decode(await self.storage.get(info.path), info.path)

    def get(self, what: str, tier: Tier, ticker: str) -> Checkpoint:
        key = (what, tier, ticker)
        found = self.items.get(key)
        if found is None:
            found = self.items[key] = Checkpoint(what=what, ticker=ticker, tier=tier)
        return found

    def done(self, what: str, ticker: str) -> list[Interval]:
        """Completed windows of (what, ticker) in either tier: the rows are the same."""
        out: list[Interval] = []
        for tier in ("live", "historical"):
            found = self.items.get((what, tier, ticker))
            if found is not None:
                out.extend(found.done)
        return merge(out)

    async def save(self, cp: Checkpoint) -> None:
        await self.storage.put(path(self.env, cp.what, cp.tier, cp.ticker), encode(cp))
