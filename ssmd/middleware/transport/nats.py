"""NATS JetStream transport (nats-py): the environment's stream holds ``{env}.>``.

Publishing is a JetStream request carrying ``Nats-Msg-Id``; when the server goes away the
client reconnects forever and ``publish`` retries with the same id until
``publish_timeout``, so a retried message is stored once. Consumers are pull consumers
with explicit ack (durable or ephemeral); ``subscribe_latest`` is a core subscription
feeding a bounded drop-oldest buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import api

from ssmd import metrics
from ssmd.clock import rfc3339
from ssmd.codec import wire
from ssmd.config.model import JetStreamConfig
from ssmd.errors import DataError, TransportError
from ssmd.log import get_logger
from ssmd.middleware.transport.base import Iteration, Payload, StartPosition
from ssmd.middleware.transport.nats_acks import Acks
from ssmd.middleware.transport.nats_pull import FATAL, HEARTBEAT, STATUS, PullRequests, next_subject
from ssmd.middleware.transport.subjects import check_filter, check_subject
from ssmd.retry import backoff

_log = get_logger("transport")
_TRANSIENT = (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError,
              nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError,
              nats.errors.OutboundBufferLimitError, nats.js.errors.ServiceUnavailableError, asyncio.TimeoutError,
              nats.js.errors.TooManyStalledMsgsError, ConnectionError, OSError)
_FETCH_BATCH = 1024
_PULL_EXPIRES = 0.5
"""Seconds the server holds a pull request open: a lost one is asked again after this, and
closing waits at most this for the open ones to end."""
Publish = tuple[str, Payload, "dict[str, str] | None", "str | None"]
"""(subject, data, headers, msg_id) for ``publish_many``; a record goes out Cap'n Proto encoded."""


async def connect(url: str, name: str, *, timeout: float = 5.0) -> Any:
    """A nats-py client that reconnects forever once connected; TransportError if unreachable."""
    held: list[Any] = []

    async def on_error(exc: Exception) -> None:
        _log.debug("nats connection error", url=url, error=str(exc))

    async def on_disconnect() -> None:
        if held and not (held[0].is_closed or held[0].is_draining):
            metrics.CIRCUIT_BREAKER_OPEN.labels("nats").set(1)
            _log.warning("nats disconnected, reconnecting", url=url)

    async def on_reconnect() -> None:
        metrics.CIRCUIT_BREAKER_OPEN.labels("nats").set(0)
        _log.info("nats reconnected", url=url)

    try:
        nc = await nats.connect(
            url, name=name, connect_timeout=max(1, int(timeout)), reconnect_time_wait=0.25,
            max_reconnect_attempts=3, error_cb=on_error, disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect, pending_size=64 * 1024 * 1024,
            skip_subject_validation=True,  # every subject is checked once by check_subject / check_filter
        )
    except Exception as exc:
        raise TransportError(f"transport: cannot connect to {url}: {type(exc).__name__} {exc}".rstrip()) from None
    nc.options["max_reconnect_attempts"] = -1  # from now on, never give up on the server
    held.append(nc)
    metrics.CIRCUIT_BREAKER_OPEN.labels("nats").set(0)
    return nc


def _encoded(subject: str, data: Payload, headers: dict[str, str] | None) -> tuple[bytes, dict[str, str] | None]:
    """The wire bytes and headers of a record or raw line (``codec.wire``); a record that
    cannot be encoded is refused for good (a retry would fail the same way), naming its subject."""
    try:
        return wire(data, headers)
    except DataError as exc:
        raise TransportError(f"{subject}: {exc}", retryable=False) from None


def _ns_rfc3339(ns: int) -> str:
    return rfc3339(ns)[:19] + f".{ns % 1_000_000_000:09d}Z"


HEADERS = "Ssmd-Headers"
"""The one NATS header carrying a message's own headers, as a JSON object of strings:
nats-py parses header lines one by one in Python, and a raw frame has six."""
_pack = msgspec.json.Encoder().encode
_unpack = msgspec.json.Decoder(dict[str, str]).decode


def _user_headers(msg: Msg) -> dict[str, str]:
    hdrs = msg.headers
    if not hdrs:
        return {}
    packed = hdrs.get(HEADERS)
    if packed is not None:
        try:
            return _unpack(packed)
        except msgspec.DecodeError:
            return {HEADERS: packed}  # not ours to read: kept as it came
    return {k: v for k, v in hdrs.items() if not k.startswith("Nats-")}  # written one header per field


class NatsMessage:
    __slots__ = ("_msg", "_sub", "data", "headers", "redelivered", "seq", "subject", "ts")

    def __init__(self, msg: Msg, sub: NatsSubscription | None = None) -> None:
        self._msg = msg
        self._sub = sub
        self.subject = msg.subject
        self.data = msg.data
        self.headers = _user_headers(msg)
        tokens = (msg.reply or "").split(".")
        if len(tokens) == 9:  # $JS.ACK.stream.consumer.delivered.sseq.cseq.ts.pending
            delivered, self.seq, self.ts = int(tokens[4]), int(tokens[5]), int(tokens[7])
        elif len(tokens) >= 11:  # with domain and account hash
            delivered, self.seq, self.ts = int(tokens[6]), int(tokens[7]), int(tokens[9])
        else:  # a core (latest-view) delivery
            delivered, self.seq, self.ts = 1, 0, time.time_ns()
        self.redelivered = delivered > 1

    async def ack(self) -> None:
        if self.seq:
            self._settled()
            await self._msg.ack()

    async def nak(self, delay: float = 0.0) -> None:
        if self.seq:
            self._settled()
            await self._msg.nak(delay=delay or None)

    def _settled(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None and sub.outstanding > 0:
            sub.outstanding -= 1


class NatsSubscription(Iteration):
    """A pull consumer whose pull request stays in flight (``nats_pull``): messages land in
    one buffer as the server sends them, and are handed out one or a batch at a time."""

    def __init__(self, owner: NatsTransport, psub: Any, stream: str, consumer: str, ephemeral: bool,
                 max_ack_pending: int) -> None:
        self._owner = owner
        self._max_pending = max_ack_pending
        self.outstanding = 0
        """Handed out and not yet acked/naked: ask only for what the server will give."""
        self._psub = psub
        self._stream = stream
        self.consumer = consumer
        self._ephemeral = ephemeral
        self._buffer: deque[Msg] = deque()
        self._requests = PullRequests(_FETCH_BATCH, _PULL_EXPIRES, in_flight=1)
        """One request at a time, the next sent as soon as it is answered: with two open
        requests the server may hand redeliveries to them out of stream order."""
        self._next_subject = next_subject(stream, consumer)
        self._inbox = ""
        self._inbox_sub: Any = None
        self._ready = asyncio.Event()
        self._failed = ""
        self.closed = False

    async def start(self, nc: Any) -> None:
        """Subscribe the inbox that every pull request names as its reply subject."""
        self._nc = nc
        self._inbox = nc.new_inbox()
        self._inbox_sub = await nc.subscribe(self._inbox, cb=self._on_msg)

    async def _on_msg(self, msg: Msg) -> None:
        status = msg.headers.get(STATUS) if msg.headers else None
        if status is None:
            self._buffer.append(msg)
            self._requests.delivered()
        elif status != HEARTBEAT:
            self._requests.ended()
            description = (msg.headers or {}).get("Description", "")
            if status == "409" and any(f in description.lower() for f in FATAL):
                self._failed = f"transport: consumer {self.consumer}: {description}"
        self._ready.set()

    async def _ask(self) -> None:
        """Send a pull request if the requests in flight leave room for a worthwhile one."""
        now = time.monotonic()
        n = self._requests.to_ask(now, self._max_pending - self.outstanding - len(self._buffer))
        if n:
            self._requests.sent(n, now)
            try:
                await self._nc.publish(self._next_subject, msgspec.json.encode(
                    {"batch": n, "expires": int(_PULL_EXPIRES * 1e9)}), reply=self._inbox)
            except _TRANSIENT:
                self._requests.lost()
                raise
            except Exception as exc:  # as the fetch it replaces: foreign errors end here
                self._requests.lost()
                raise TransportError(f"transport: pull from {self.consumer}: {exc}", retryable=False) from None

    async def next(self, timeout: float | None = None) -> NatsMessage:
        end = None if timeout is None else time.monotonic() + timeout
        waits = backoff(initial=0.05, maximum=1.0)
        while True:
            if self.closed:
                raise TransportError("subscription closed", retryable=False)
            if self._failed:
                raise TransportError(self._failed, retryable=False)
            if self._buffer:
                return self._hand_out(self._buffer.popleft())
            left = 1.0 if end is None else min(1.0, end - time.monotonic())
            if left < 0.01:
                raise TimeoutError(f"no message within {timeout} s")
            self._ready.clear()
            try:
                await self._ask()
            except _TRANSIENT:  # server restarting: ask again soon (the durable consumer survives)
                await asyncio.sleep(next(waits) if end is None else min(next(waits), max(0.0, end - time.monotonic())))
                continue
            if self._buffer:
                continue
            with contextlib.suppress(TimeoutError):  # wake at least every second: requests may have lapsed
                await asyncio.wait_for(self._ready.wait(), left)

    async def next_batch(self, max_n: int, timeout: float | None = None) -> list[NatsMessage]:
        """The next message (waiting like ``next``) and, up to ``max_n``, those already
        delivered; the next pull request goes out before the batch is handed over."""
        out = [await self.next(timeout)]
        buffer = self._buffer
        while buffer and len(out) < max_n:
            out.append(self._hand_out(buffer.popleft()))
        with contextlib.suppress(*_TRANSIENT):
            await self._ask()
        return out

    def _hand_out(self, raw: Msg) -> NatsMessage:
        msg = NatsMessage(raw, self)
        if not msg.redelivered:
            self.outstanding += 1
        else:
            msg._sub = None
        return msg

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._ready.set()
        # The server would still send the open requests' messages to the inbox: wait until
        # they end (each within _PULL_EXPIRES), so that nothing is stranded until ack_wait.
        deadline = time.monotonic() + _PULL_EXPIRES + 0.5
        while self._requests.asked and time.monotonic() < deadline and self._nc.is_connected:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), 0.05)
        if self._inbox_sub is not None:
            with contextlib.suppress(Exception):
                await self._inbox_sub.unsubscribe()
        # Delivered but never handed out: give them back now rather than after ack_wait.
        while self._buffer:
            try:
                await self._buffer.popleft().nak()
            except Exception:
                break
        try:
            await self._psub.unsubscribe()
            if self._ephemeral:
                await self._owner._js.delete_consumer(self._stream, self.consumer)
        except Exception as exc:
            _log.debug("closing consumer", consumer=self.consumer, error=str(exc))


class LatestSubscription:
    """A core subscription keeping the newest ``buffer`` messages (drop oldest)."""

    def __init__(self, buffer: int) -> None:
        self._queue: deque[Msg] = deque(maxlen=max(1, buffer))
        self._wake = asyncio.Event()
        self._sub: Any = None
        self.closed = False

    async def on_msg(self, msg: Msg) -> None:
        self._queue.append(msg)
        self._wake.set()

    def __aiter__(self) -> LatestSubscription:
        return self

    async def __anext__(self) -> NatsMessage:
        try:
            return await self.next()
        except TransportError:
            raise StopAsyncIteration from None

    async def next(self, timeout: float | None = None) -> NatsMessage:
        while not self._queue:
            if self.closed:
                raise TransportError("subscription closed", retryable=False)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                raise TimeoutError(f"no message within {timeout} s") from None
        return NatsMessage(self._queue.popleft())

    async def next_batch(self, max_n: int, timeout: float | None = None) -> list[NatsMessage]:
        out = [await self.next(timeout)]
        queue = self._queue
        while queue and len(out) < max_n:
            out.append(NatsMessage(queue.popleft()))
        return out

    async def close(self) -> None:
        self.closed = True
        self._wake.set()
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception as exc:
                _log.debug("closing latest view", error=str(exc))


class NatsTransport:
    def __init__(self, url: str, env: str, jetstream: JetStreamConfig | None = None, *,
                 publish_timeout: float = 30.0, request_timeout: float = 2.0) -> None:
        self.url = url
        self.env = env
        self.config = jetstream or JetStreamConfig()
        self.stream = self.config.stream
        self.publish_timeout = publish_timeout
        self.request_timeout = request_timeout
        self._nc: Any = None
        self._js: Any = None
        self._valid: set[str] = set()
        self._subs: list[Any] = []
        self._acks: Acks | None = None
        """The publish acks' inbox, subscribed on first ``publish_many``."""
        self.on_retry: Callable[[str, BaseException], None] | None = None
        """Called before a publish is retried (subject, error); for logs and tests."""

    async def connect(self) -> None:
        if self._nc is None:
            self._nc = await connect(self.url, f"ssmd-{self.env}")
            self._js = self._nc.jetstream(timeout=self.request_timeout)

    async def close(self) -> None:
        for sub in list(self._subs):
            await sub.close()
        self._subs.clear()
        self._acks = None
        if self._nc is not None:
            nc, self._nc = self._nc, None
            try:
                await nc.drain()
            except Exception:
                await nc.close()

    def _stream_config(self) -> api.StreamConfig:
        c = self.config
        return api.StreamConfig(
            name=self.stream, subjects=[f"{self.env}.>"], retention=api.RetentionPolicy.LIMITS,
            max_age=c.max_age_hours * 3600, discard=api.DiscardPolicy.OLD, duplicate_window=c.duplicate_window_seconds,
            max_bytes=c.max_bytes, storage=api.StorageType.FILE, num_replicas=c.replicas,
        )

    async def ensure_stream(self) -> None:
        await self.stream_info(create=True)

    async def stream_info(self, *, create: bool = False) -> Any:
        """The stream's info (creating or updating its limits when ``create``)."""
        await self.connect()
        try:
            try:
                info = await self._js.stream_info(self.stream)
            except nats.js.errors.NotFoundError:
                if not create:
                    raise TransportError(f"transport: stream {self.stream} does not exist", retryable=False) from None
                return await self._js.add_stream(self._stream_config())
            if create:
                config = self._stream_config()
                # Several environments may share one stream: keep the subjects already there.
                config.subjects = sorted({*(info.config.subjects or []), *(config.subjects or [])})
                return await self._js.update_stream(config)
            return info
        except TransportError:
            raise
        except Exception as exc:
            raise TransportError(f"transport: stream {self.stream} on {self.url}: {exc}") from None

    async def purge(self, subject: str) -> int:
        """Delete the stream's messages on ``subject`` (a filter); returns how many."""
        count = await self.count(subject)
        if count:
            await self._js.purge_stream(self.stream, subject=subject)
        return count

    async def count(self, subject: str) -> int:
        """Messages stored on ``subject`` (a filter); 0 when the stream does not exist."""
        await self.connect()
        try:
            state = (await self._js.stream_info(self.stream, subjects_filter=subject)).state
        except nats.js.errors.NotFoundError:
            return 0
        return sum((state.subjects or {}).values()) if state.subjects else 0

    def _headers(self, subject: str, headers: dict[str, str] | None, msg_id: str | None) -> dict[str, str]:
        if subject not in self._valid:
            if not subject.startswith(f"{self.env}."):
                raise TransportError(f"subject {subject!r} is outside the stream ({self.env}.>)", retryable=False)
            check_subject(subject)
            self._valid.add(subject)
        hdrs = {HEADERS: _pack(headers).decode()} if headers else {}
        if msg_id is not None:
            hdrs["Nats-Msg-Id"] = msg_id
        return hdrs

    async def publish_many(self, items: Sequence[Publish]) -> list[int]:
        """Publish a batch pipelined, wait for every ack; returns the sequences.

        Each message names its own reply subject; one subscription collects the acks
        (``nats_acks``). A message whose good ack does not come (an error ack, or the server
        restarting) is published again with the same ``msg_id`` through ``publish``, so it
        is stored once.
        """
        await self.connect()
        items = [item if type(item[1]) is bytes else (item[0], *_encoded(item[0], item[1], item[2]), item[3])
                 for item in items]
        acks = await self._acks_inbox()
        bid, batch = acks.open(len(items))
        publish = self._nc.publish
        try:
            for i, (subject, data, headers, msg_id) in enumerate(items):
                hdrs = self._headers(subject, headers, msg_id)
                try:
                    await publish(subject, data, reply=acks.reply(bid, i), headers=hdrs or None)
                except _TRANSIENT:
                    batch.skipped(i)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(batch.done.wait(), self.request_timeout * 2)
        finally:
            acks.close(bid)
        return [seq if seq is not None else await self.publish(*item)
                for item, seq in zip(items, batch.seqs, strict=True)]

    async def _acks_inbox(self) -> Acks:
        if self._acks is None:
            acks = Acks(self._nc.new_inbox())
            await self._nc.subscribe(f"{acks.prefix}.>", cb=acks.on_ack)
            self._acks = acks
        return self._acks

    async def publish(self, subject: str, data: Payload, headers: dict[str, str] | None = None,
                      msg_id: str | None = None) -> int:
        if type(data) is not bytes:
            data, headers = _encoded(subject, data, headers)
        hdrs = self._headers(subject, headers, msg_id)
        deadline = time.monotonic() + self.publish_timeout
        waits = backoff(initial=0.05, maximum=1.0)
        while True:
            try:
                ack = await self._js.publish(subject, data, timeout=self.request_timeout, headers=hdrs or None)
                return int(ack.seq)
            except _TRANSIENT as exc:
                if time.monotonic() >= deadline:
                    raise TransportError(f"transport: publish to {subject} failed for {self.publish_timeout} s: "
                                         f"{type(exc).__name__}") from None
                if self.on_retry is not None:
                    self.on_retry(subject, exc)
                await asyncio.sleep(next(waits))
            except nats.js.errors.APIError as exc:
                raise TransportError(f"transport: publish to {subject}: {exc}", retryable=False) from None

    async def ack_many(self, messages: Sequence[Any]) -> None:
        """Ack each message (JetStream acks one by one; they are pipelined, not awaited);
        every ack is tried, then the first failure is raised."""
        failed: Exception | None = None
        for msg in messages:
            try:
                await msg.ack()
            except Exception as exc:
                failed = failed or exc
        if failed is not None:
            raise TransportError(f"transport: ack failed: {failed}") from None

    async def subscribe(self, subject: str, *, durable: str | None = None, start: StartPosition = StartPosition(),
                        ack_wait: float = 30.0, max_ack_pending: int = 10_000) -> NatsSubscription:
        check_filter(subject)
        await self.connect()
        config = api.ConsumerConfig(
            ack_policy=api.AckPolicy.EXPLICIT, ack_wait=ack_wait, max_ack_pending=max(1, max_ack_pending),
            max_deliver=-1, filter_subject=subject,
        )
        if start.kind == "all":
            config.deliver_policy = api.DeliverPolicy.ALL
        elif start.kind == "new":
            config.deliver_policy = api.DeliverPolicy.NEW
        elif start.kind == "seq":
            config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = max(1, start.value)
        else:
            config.deliver_policy = api.DeliverPolicy.BY_START_TIME
            config.opt_start_time = _ns_rfc3339(start.value)  # type: ignore[assignment]
        if durable is None:
            config.inactive_threshold = 300.0
        try:
            psub = await self._js.pull_subscribe(subject, durable=durable, stream=self.stream, config=config)
            consumer = durable or (await psub.consumer_info()).name
        except Exception as exc:
            who = durable or "ephemeral"
            raise TransportError(f"transport: cannot subscribe to {subject} ({who}): {exc}") from None
        sub = NatsSubscription(self, psub, self.stream, consumer, durable is None, max(1, max_ack_pending))
        await sub.start(self._nc)
        self._subs.append(sub)
        return sub

    async def subscribe_latest(self, subject: str, *, buffer: int = 1000) -> LatestSubscription:
        check_filter(subject)
        await self.connect()
        view = LatestSubscription(buffer)
        view._sub = await self._nc.subscribe(subject, cb=view.on_msg, pending_msgs_limit=max(buffer, 65536))
        self._subs.append(view)
        return view
