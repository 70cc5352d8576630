"""A small Kalshi WebSocket client for the simulator tests (real sockets)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

TIMEOUT = 5.0


class Client:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 1
        self.received: list[dict[str, Any]] = []
        self.texts: list[str] = []

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> Client:
        return cls(await connect(url, ping_interval=None, **kwargs))

    async def close(self) -> None:
        await self.ws.close()

    async def send(self, cmd: str, params: dict[str, Any] | None = None, **extra: Any) -> int:
        id_ = self.next_id
        self.next_id += 1
        body: dict[str, Any] = {"id": id_, "cmd": cmd, **extra}
        if params is not None:
            body["params"] = params
        await self.ws.send(json.dumps(body))
        return id_

    async def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        text = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(text, str)
        self.texts.append(text)
        try:
            frame = json.loads(text)
        except json.JSONDecodeError:
            frame = {"type": "<unparseable>", "text": text}
        self.received.append(frame)
        return frame

    async def until(self, pred: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT) -> list[dict[str, Any]]:
        """Frames received up to and including the first one matching ``pred``."""
        out = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - loop.time()))
            out.append(frame)
            if pred(frame):
                return out

    async def reply(self, id_: int, type_: str | None = None) -> dict[str, Any]:
        """The next response carrying command id ``id_`` (data before it is kept)."""
        frames = await self.until(lambda f: f.get("id") == id_ and (type_ is None or f.get("type") == type_))
        return frames[-1]

    async def subscribe(self, channels: list[str], **params: Any) -> list[int]:
        id_ = await self.send("subscribe", {"channels": channels, **params})
        sids = []
        for _ in channels:
            ack = await self.reply(id_)
            assert ack["type"] == "subscribed", ack
            sids.append(ack["msg"]["sid"])
        return sids

    async def barrier(self) -> list[dict[str, Any]]:
        """Every frame the server queued before now (a list_subscriptions round trip)."""
        id_ = await self.send("list_subscriptions")
        frames = await self.until(lambda f: f.get("id") == id_ and f.get("type") == "ok")
        return frames[:-1]
