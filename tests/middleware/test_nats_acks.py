"""Publish acks of a pipelined batch, filed by batch and index (pure)."""

from __future__ import annotations

from types import SimpleNamespace

from ssmd.middleware.transport.nats_acks import Acks


async def test_each_ack_lands_on_its_item_and_the_batch_completes() -> None:
    acks = Acks("_INBOX.x")
    bid, batch = acks.open(3)
    assert acks.reply(bid, 2) == f"_INBOX.x.{bid}.2"
    await acks.on_ack(SimpleNamespace(subject=acks.reply(bid, 2), data=b'{"stream":"s","seq":12}'))
    await acks.on_ack(SimpleNamespace(subject=acks.reply(bid, 0), data=b'{"stream":"s","seq":10}'))
    assert not batch.done.is_set()
    await acks.on_ack(SimpleNamespace(subject=acks.reply(bid, 1), data=b'{"error":{"code":503}}'))
    assert batch.done.is_set() and batch.seqs == [10, None, 12]  # an error ack: published again by publish()


async def test_stragglers_of_a_closed_batch_and_skipped_items() -> None:
    acks = Acks("_INBOX.y")
    bid, batch = acks.open(2)
    batch.skipped(0)  # never went out
    acks.close(bid)
    await acks.on_ack(SimpleNamespace(subject=acks.reply(bid, 1), data=b'{"seq":5}'))  # too late: ignored
    assert batch.seqs == [None, None] and not batch.done.is_set()
    _, empty = acks.open(0)
    assert empty.done.is_set()
