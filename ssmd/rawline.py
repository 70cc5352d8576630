"""A raw frame and its facts: what the connector publishes and the raw archive stores.

On the in-process bus the connector publishes a ``RawLine`` itself, so nothing turns its
facts into header strings and back. A transport that leaves the process (NATS, the
workers' pipe) sends the frame's bytes with the facts as headers (``wire``), and the
archiver reads either form with ``line_of``. The header names are the contract of raw
messages on the wire: ``received_at``, ``conn``, ``channel``, ``type``, ``sid``, ``seq``.
"""

from __future__ import annotations

import msgspec


class RawLine(msgspec.Struct, gc=False):
    received_at: int
    conn: str
    channel: str
    type: str
    sid: int | None
    seq: int | None
    frame: str

    def headers(self) -> dict[str, str]:
        """The facts as the header strings a raw message carries on the wire."""
        out = {"received_at": str(self.received_at), "conn": self.conn, "channel": self.channel, "type": self.type}
        if self.sid is not None:
            out["sid"] = str(self.sid)
        if self.seq is not None:
            out["seq"] = str(self.seq)
        return out


def line_of(subject: str, headers: dict[str, str], data: bytes | RawLine, stored_ns: int) -> RawLine:
    """The archive line of a raw message: the ``RawLine`` itself from the in-process bus, or
    built from the bytes and headers of one that crossed a process boundary."""
    if type(data) is RawLine:
        return data
    get = headers.get
    received, sid, seq = get("received_at"), get("sid"), get("seq")
    return RawLine(  # positional: the field order of RawLine
        int(received) if received else stored_ns, get("conn", ""), get("channel") or subject.rsplit(".", 1)[-1],
        get("type", ""), int(sid) if sid else None, int(seq) if seq else None,
        data.decode("utf-8", "replace"))  # type: ignore[union-attr]


def key_of(headers: dict[str, str], data: object, stored_ns: int) -> tuple[str, int]:
    """``(conn, received_at)`` of a raw message in either form: what tells a redelivery."""
    if type(data) is RawLine:
        return (data.conn, data.received_at)
    return (headers.get("conn", ""), int(headers.get("received_at") or stored_ns))
