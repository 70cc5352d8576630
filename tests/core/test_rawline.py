"""A raw frame crosses the in-process bus as a ``RawLine`` and a process boundary as bytes
with its facts as headers; the archiver reads either form the same."""

from __future__ import annotations

import pytest

from ssmd import codec
from ssmd.errors import DataError
from ssmd.rawline import RawLine, key_of, line_of

FRAME = '{"type":"trade","sid":3,"seq":7,"msg":{"market_ticker":"KX-ü"}}'


@pytest.mark.parametrize("line", [
    RawLine(1_784_475_900_000_000_123, "c1", "trade", "trade", 3, 7, FRAME),
    RawLine(1_784_475_900_000_000_124, "c1", "control", "ok", None, None, '{"id":2,"type":"ok"}'),
])
def test_the_wire_form_reads_back_as_the_same_line(line: RawLine) -> None:
    data, headers = codec.wire(line, None)
    assert data == line.frame.encode() and headers == line.headers()
    assert ("sid" in headers, "seq" in headers) == (line.sid is not None, line.seq is not None)
    subject = f"e.kalshi.raw.{line.channel}"
    assert line_of(subject, headers or {}, data, 0) == line
    assert line_of(subject, {}, line, 0) is line  # the in-process form is the line itself
    assert key_of(headers or {}, data, 0) == key_of({}, line, 0) == (line.conn, line.received_at)


def test_wire_keeps_extra_headers_and_other_payloads_as_they_are() -> None:
    line = RawLine(5, "c2", "trade", "trade", 1, 2, FRAME)
    assert codec.wire(line, {"trace": "x"})[1] == {**line.headers(), "trace": "x"}
    assert codec.wire(b"bytes", {"a": "1"}) == (b"bytes", {"a": "1"})


def test_a_frame_written_without_facts_falls_back_to_the_subject_and_store_time() -> None:
    assert line_of("e.kalshi.raw.ticker", {}, b"{}", 99) == RawLine(99, "", "ticker", "", None, None, "{}")


def test_a_raw_line_is_never_decoded_as_a_record() -> None:
    with pytest.raises(DataError, match="a raw frame, not a record"):
        codec.decode("trade", RawLine(1, "c", "trade", "trade", 1, 1, FRAME))
