"""The de-duplicator judges a batch of first deliveries as it judges them one by one."""

from __future__ import annotations

import random

import pytest

from ssmd.archiver.policy import Deduper


class Delivery:
    def __init__(self, seq: int) -> None:
        self.seq = seq


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_of_first_deliveries_is_judged_as_one_by_one(seed: int) -> None:
    rng = random.Random(seed)
    seqs = [rng.choice([0, rng.randrange(1, 400), rng.randrange(1, 400)]) for _ in range(1000)]
    one, batch = Deduper(), Deduper()
    expected = [seq for seq in seqs if not one.is_duplicate(seq, False)]
    got: list[int] = []
    for start in range(0, len(seqs), 70):
        new, dups = batch.first_deliveries([Delivery(s) for s in seqs[start:start + 70]])
        got.extend(d.seq for d in new)
        assert all(d.seq for d in dups)
    assert got == expected and batch.duplicates == one.duplicates


def test_redeliveries_after_a_batch_are_recognised() -> None:
    dedup = Deduper()
    new, dups = dedup.first_deliveries([Delivery(1), Delivery(2), Delivery(2), Delivery(0)])
    assert [d.seq for d in new] == [1, 2, 0] and [d.seq for d in dups] == [2]
    assert dedup.is_duplicate(1, True) and not dedup.is_duplicate(3, True)
