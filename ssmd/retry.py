"""Retry policy as data: a backoff generator and a retry loop around it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from ssmd.errors import is_retryable

T = TypeVar("T")


def backoff(
    initial: float = 0.1,
    maximum: float = 10.0,
    factor: float = 2.0,
    jitter: float = 0.5,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """Yield delays growing exponentially to ``maximum``, each with ± ``jitter`` fraction."""
    rand = rng or random.Random()
    delay = initial
    while True:
        spread = delay * jitter
        yield max(0.0, delay + rand.uniform(-spread, spread))
        delay = min(maximum, delay * factor)


async def retry(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int = 5,
    delays: Iterator[float] | None = None,
    classify: Callable[[BaseException], bool] = is_retryable,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Call ``fn`` until it succeeds, a fatal error occurs, or ``attempts`` run out."""
    waits = delays or backoff()
    for attempt in range(1, attempts + 1):
        try:
            return await fn()
        except Exception as exc:
            if attempt == attempts or not classify(exc):
                raise
            wait = next(waits)
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")
