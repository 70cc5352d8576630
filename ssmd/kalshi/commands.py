"""Client -> server commands: JSON text with a per-connection, incrementing ``id``.

``Commands`` numbers commands from 1 (``0`` means "no id" to Kalshi) and remembers
what each id asked for, so responses (which may arrive after unrelated data) can be
matched by id. One channel per ``subscribe`` (Kalshi's own client does the same).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec

Action = Literal["add_markets", "delete_markets", "get_snapshot"]
_encode = msgspec.json.encode


class Command(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    cmd: str
    params: dict[str, Any] | None = None

    def text(self) -> str:
        """The JSON text frame to send."""
        body: dict[str, Any] = {"id": self.id, "cmd": self.cmd}
        if self.params is not None:
            body["params"] = self.params
        return _encode(body).decode()


class Commands:
    """Builds commands with ids 1, 2, 3, ... and keeps the ones not yet answered."""

    __slots__ = ("_next", "pending")

    def __init__(self) -> None:
        self._next = 1
        self.pending: dict[int, Command] = {}

    def _make(self, cmd: str, params: dict[str, Any] | None) -> Command:
        command = Command(id=self._next, cmd=cmd, params=params)
        self._next += 1
        self.pending[command.id] = command
        return command

    def subscribe(
        self, channel: str, markets: Sequence[str] | None = None, *, send_initial_snapshot: bool = False
    ) -> Command:
        params: dict[str, Any] = {"channels": [channel]}
        if markets:
            params["market_tickers"] = list(markets)
        if send_initial_snapshot:
            params["send_initial_snapshot"] = True
        return self._make("subscribe", params)

    def unsubscribe(self, sids: Sequence[int]) -> Command:
        return self._make("unsubscribe", {"sids": list(sids)})

    def update_subscription(self, sid: int, action: Action, markets: Sequence[str]) -> Command:
        return self._make("update_subscription", {"sids": [sid], "market_tickers": list(markets), "action": action})

    def list_subscriptions(self) -> Command:
        return self._make("list_subscriptions", None)

    def answered(self, command_id: int | None) -> Command | None:
        """The command a response answers (removed from ``pending``), if any."""
        if command_id is None:
            return None
        return self.pending.pop(command_id, None)

    def get(self, command_id: int | None) -> Command | None:
        return None if command_id is None else self.pending.get(command_id)
