"""Chaos: fuzzed frames through the connector's frame path, in process.

Real frame shapes (``fixtures/kalshi/frames.jsonl`` and the reference's examples) are
mutated (wrong types, huge numbers, deep nesting, invalid UTF-8, truncation, byte flips,
junk, non-object JSON, seq/sid abuse, unknown and swapped types, a few 10 MB frames), cut
from a WebSocket byte stream by the splitter, and processed by the same ``FramePipeline``
the live loop uses, on a ``Session`` and a memory transport (bounded by ``max_bytes``).

Figures: crashes (an exception out of the splitter or the pipeline: goal 0), dead letters
(each must carry its ``error_type`` and reason, and equal ``stats.dead_letters``), frames
that produced nothing and are neither a command response, a duplicate nor a discarded
delta (goal 0: nothing vanishes silently), and RSS growth after warm-up (bounded).
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaos_common import ChaosResult, Scenario

from ssmd.connector.pipeline import FramePipeline
from ssmd.connector.session import Session
from ssmd.connector.splitter import MORE, split
from ssmd.connector.stats import Stats
from ssmd.kalshi.subscriptions import Limits, Planner
from ssmd.middleware.transport.memory import MemoryTransport, Publish
from ssmd.rawline import line_of

ROOT = Path(__file__).resolve().parent.parent
BIG = 10 * 1024 * 1024
MAX_SIZE = 2**24
"""The connector's ``max_size`` (``ssmd.connector.dial``)."""
RSS_BOUND = 256 * 1024 * 1024
"""Growth of the resident set after warm-up allowed (the bus keeps at most 64 MB)."""
_EXTRA = [
    {"type": "trade", "sid": 2, "seq": 5, "msg": {"trade_id": "9c1f0a52-3d7e-4b8a-a0f1-5e2d7c4b9a10",
     "market_ticker": "KXBTCD-26JUL2317-T118999.99", "yes_price_dollars": "0.6400", "no_price_dollars": "0.3600",
     "count_fp": "25.00", "taker_side": "yes", "taker_outcome_side": "yes", "taker_book_side": "bid",
     "is_block_trade": False, "ts": 1784840410, "ts_ms": 1784840410123}},
    {"type": "orderbook_snapshot", "sid": 5, "seq": 1, "msg": {"market_ticker": "KXBTCD-26JUL2317-T118999.99",
     "market_id": "0f6f2c1e-52a4-4e55-9d1b-2c7b0e0a3f11",
     "yes_dollars_fp": [["0.6100", "120.00"], ["0.6200", "40.00"]], "no_dollars_fp": [["0.3500", "200.00"]]}},
    {"type": "orderbook_delta", "sid": 5, "seq": 2, "msg": {"market_ticker": "KXBTCD-26JUL2317-T118999.99",
     "price_dollars": "0.6300", "delta_fp": "-15.50", "side": "yes", "ts_ms": 1784840410123}},
    {"type": "market_lifecycle_v2", "sid": 3, "seq": 7, "msg": {"market_ticker": "KXBTCD-26JUL2318-T118999.99",
     "event_type": "created", "open_ts": 1784840400, "close_ts": 1784844000,
     "additional_metadata": {"name": "x", "event_ticker": "KXBTCD-26JUL2318", "floor_strike": 118999.99}}},
    {"type": "error", "id": 9, "msg": {"code": 8, "msg": "Unknown channel name"}},
    {"type": "ok", "id": 4, "sid": 2, "seq": 3, "msg": {"market_tickers": ["A", "B"]}},
]


def shapes() -> list[dict[str, Any]]:
    out = list(_EXTRA)
    path = ROOT / "fixtures" / "kalshi" / "frames.jsonl"
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                out.append(json.loads(json.loads(line)["frame"]))
            except ValueError:
                continue  # the fixtures' own malformed frames: the mutations make more
    return out


_ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 2**63, -(2**63), 2**64 + 1, 10**30, -(10**30), 1e308, -1e-308, 3.5, "", " ",
    "1e999", "NaN", "-Infinity", "0x10", "1.2.3", "99999999999999999999.9999", "-0.0000", "\u0000", "\u202e",
    "A" * 300, [], [[]], {}, {"a": 1}, [1, "2", None], "2026-13-45T25:61:61Z",
]


class Mutator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.shapes = shapes()

    def _paths(self, obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        out = [prefix]
        if isinstance(obj, dict):
            for k, v in obj.items():
                out += self._paths(v, (*prefix, k))
        elif isinstance(obj, list):
            for i, v in enumerate(obj[:4]):
                out += self._paths(v, (*prefix, i))
        return out

    def _set(self, obj: Any, path: tuple[Any, ...], value: Any) -> Any:
        if not path:
            return value
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
        return obj

    def frame(self, big: bool = False) -> bytes:
        rng = self.rng
        shape = json.loads(json.dumps(rng.choice(self.shapes)))
        if big:
            return self._big(shape)
        kind = rng.randrange(12)
        if kind <= 3:  # wrong types, odd and huge values, in 1-3 places
            for _ in range(rng.randint(1, 3)):
                path = rng.choice(self._paths(shape))
                shape = self._set(shape, path, json.loads(json.dumps(rng.choice(_ODD_VALUES))))
        elif kind == 4:  # deep nesting, in place of a value or as an extra field
            path = rng.choice(self._paths(shape))
            shape = self._set(shape, path, "__NEST__")
        elif kind == 5:  # a field removed
            path = rng.choice(self._paths(shape)[1:] or [()])
            if path:
                parent = shape
                for key in path[:-1]:
                    parent = parent[key]
                del parent[path[-1]]
        elif kind == 6:  # the type swapped or unknown; sid/seq abused
            shape["type"] = rng.choice(("trade", "ticker", "orderbook_delta", "orderbook_snapshot", "error", "ok",
                                        "subscribed", "unsubscribed", "market_lifecycle_v2", "event_lifecycle",
                                        "market_metrics", "", "TRADE", None, 7))
            shape[rng.choice(("sid", "seq", "id"))] = rng.choice(_ODD_VALUES)
        data = json.dumps(shape, ensure_ascii=rng.random() < 0.5).encode()
        if kind == 4:
            depth = rng.choice((10, 100, 1000, 5000, 50_000))
            opener, closer = (b"[", b"]") if rng.random() < 0.5 else (b'{"n":', b"}")
            data = data.replace(b'"__NEST__"', opener * depth + b"1" + closer * depth, 1)
        if kind == 7:  # invalid UTF-8 inside a string
            i = data.find(b'"', rng.randrange(max(1, len(data) - 1)))
            cut = i + 1 if i >= 0 else len(data) // 2
            bad = rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"))
            data = data[:cut] + bad + data[cut:]
        elif kind == 8:  # truncated
            data = data[:rng.randrange(len(data))]
        elif kind == 9:  # bytes flipped
            buf = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            data = bytes(buf)
        elif kind == 10:  # junk or JSON that is not an object
            data = rng.choice((b"", b"null", b"[]", b"1", b'"x"', b"{}", b"{{", b"\x00\x01", b"[" * 200,
                               bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))))
        elif kind == 11:  # duplicate keys, extra fields
            data = data[:-1] + b',"type":"ticker","zz":{"a":[1,2,{"b":null}]}}' if data.endswith(b"}") else data
        return data

    def _big(self, shape: dict[str, Any]) -> bytes:
        rng = self.rng
        choice = rng.randrange(3)
        if choice == 0:  # a 10 MB string in a field
            msg: Any = shape.get("msg") if isinstance(shape.get("msg"), dict) else shape
            msg["market_ticker"] = "K" * BIG
        elif choice == 1:  # a book of ~400k levels
            shape = {"type": "orderbook_snapshot", "sid": 5, "seq": 1, "msg": {
                "market_ticker": "KXBIG", "yes_dollars_fp": [["0.5000", "1.00"]] * (BIG // 24)}}
        else:  # 10 MB of nesting-free junk inside a valid envelope
            shape["zz"] = ["x" * 1000] * (BIG // 1004)
        return json.dumps(shape).encode()


class CountingBus(MemoryTransport):
    """The memory transport, noting what the pipeline publishes: raw frames, records, dead letters."""

    def __init__(self) -> None:
        super().__init__("z", max_bytes=64 * 1024 * 1024, duplicate_window=1.0)
        self.raw = 0
        self.records = 0
        self.dlq = 0
        self.dlq_unexplained = 0
        self.reasons: dict[str, int] = {}
        self.produced: set[str] = set()
        """Ids of frames that produced a record or a dead letter (cleared per batch)."""
        self.raw_types: dict[str, tuple[str, str]] = {}
        """Frame id -> (type, sid) of the raw frames of the current batch."""

    async def publish_many(self, items: Sequence[Publish]) -> list[int]:
        for subject, data, given, frame_id in items:
            headers, msg_id = given or {}, frame_id or ""
            if subject.startswith("z.kalshi.raw."):
                self.raw += 1
                line = line_of(subject, headers, data, 0)  # type: ignore[arg-type]
                self.raw_types[msg_id] = (line.type, "" if line.sid is None else str(line.sid))
            elif subject.startswith("z.dlq."):
                self.dlq += 1
                kind = headers.get("error_type", "")
                self.reasons[kind] = self.reasons.get(kind, 0) + 1
                if not kind or not headers.get("error"):
                    self.dlq_unexplained += 1
                self.produced.add(msg_id.rsplit(":", 1)[0])
            else:
                self.records += 1
                self.produced.add(msg_id.rsplit(":", 1)[0])
        return await super().publish_many(items)


def _ws(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 65536:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return head + payload


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


_SILENT_OK = frozenset({"subscribed", "ok", "unsubscribed", "error", "list_subscriptions"})


async def fuzz(total: int, big: int, seed: int = 16) -> dict[str, Any]:
    mutator = Mutator(seed)
    bus = CountingBus()
    stats = Stats("kalshi")
    planner = Planner(["ticker", "trade", "market_lifecycle_v2", "orderbook_delta"], "all", Limits())
    session = Session(0, planner)
    pipeline = FramePipeline("z", "kalshi", bus, stats, session, "fz-1")
    crashes: list[str] = []
    silent: dict[str, int] = {}
    batch_size = 1000
    big_at = set(random.Random(seed).sample(range(total), big)) if big else set()
    done = 0
    rss_start = 0
    start = time.perf_counter()
    while done < total:
        frames = [mutator.frame(i in big_at) for i in range(done, min(total, done + batch_size))]
        stream = b"".join(_ws(f) for f in frames)
        try:
            payloads, pos, end = split(stream, 0, MAX_SIZE)
            if payloads != frames or pos != len(stream) or end != MORE:
                crashes.append(f"splitter lost frames at {done}: {len(payloads)} of {len(frames)}")
        except Exception as exc:
            crashes.append(f"splitter: {type(exc).__name__}: {exc}"[:200])
            payloads = frames
        now = time.time_ns()
        bus.produced.clear()
        bus.raw_types.clear()
        dups, discarded = stats.duplicates, stats.discarded
        try:
            await pipeline.process([(p, now) for p in payloads])
        except Exception as exc:
            crashes.append(f"pipeline at frame {done}: {type(exc).__name__}: {exc}"[:200])
            pipeline = FramePipeline("z", "kalshi", bus, stats, session, "fz-1")
        allowed = (stats.duplicates - dups) + (stats.discarded - discarded)
        retired = {str(sid) for sid in session.retired}  # late frames of ended subscriptions: kept raw only
        nothing = [t for mid, (t, sid) in bus.raw_types.items()
                   if mid not in bus.produced and t not in _SILENT_OK and sid not in retired]
        for t in nothing[allowed:] if len(nothing) > allowed else []:
            silent[t] = silent.get(t, 0) + 1
        session.outbox.clear()
        session.events.clear()
        session.rest_books.clear()
        done += len(frames)
        if not rss_start and done >= total // 10:
            rss_start = _rss()
    took = time.perf_counter() - start
    return {"frames": done, "crashes": crashes, "raw": bus.raw, "records": bus.records, "dlq": bus.dlq,
            "dead_letters": stats.dead_letters, "unexplained": bus.dlq_unexplained, "reasons": bus.reasons,
            "silent": silent, "rss_growth": _rss() - rss_start, "seconds": took, "big": big}


def _result(total: int, big: int) -> list[ChaosResult]:
    r = asyncio.run(fuzz(total, big))
    silent = sum(r["silent"].values())
    held = (not r["crashes"] and r["raw"] == r["frames"] and r["dlq"] == r["dead_letters"]
            and r["unexplained"] == 0 and silent == 0 and r["rss_growth"] <= RSS_BOUND)
    reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(r["reasons"].items()))
    return [ChaosResult(
        f"fuzz: {r['frames']:,} mutated frames ({big} of 10 MB) through splitter + pipeline",
        f"{len(r['crashes'])} crashes; {r['dlq']:,} dead letters, each with its reason; {silent} vanished; "
        f"RSS +{r['rss_growth'] / 2**20:.0f} MB after warm-up; {r['frames'] / r['seconds']:,.0f} frames/s",
        f"0 crashes, every rejected frame in the DLQ with a reason, none vanished, RSS growth <= "
        f"{RSS_BOUND // 2**20} MB",
        held,
        f"dead letters by reason: {reasons}; records {r['records']:,}; raw {r['raw']:,}; "
        f"crashes: {r['crashes'][:3]}; vanished by type: {r['silent']}",
    )]


def scenarios(quick: bool) -> list[Scenario]:
    total, big = (100_000, 3) if quick else (1_000_000, 12)
    return [Scenario("fuzz: mutated frames", lambda: _result(total, big), slow=not quick)]
