"""Client-side request pacing: a continuously refilling token bucket (pure; time passed in)."""

from __future__ import annotations


class TokenBucket:
    """Continuous-refill token bucket; ``reserve`` returns how long to wait for one token."""

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, burst)
        self._tokens = self.capacity
        self._at: float | None = None

    def reserve(self, now: float) -> float:
        if self._at is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate
