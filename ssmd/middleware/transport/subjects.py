"""Subject filters as JetStream reads them: ``*`` is one token, ``>`` the rest (pure)."""

from __future__ import annotations

from ssmd.errors import TransportError


def check_subject(subject: str) -> None:
    """A publish subject: non-empty tokens, no wildcards, no white space."""
    if (
        not subject
        or "*" in subject
        or ">" in subject
        or ".." in subject
        or subject[0] == "."
        or subject[-1] == "."
        or any(c.isspace() for c in subject)
    ):
        raise TransportError(f"invalid subject {subject!r}: want non-empty tokens, no wildcards", retryable=False)


def check_filter(pattern: str) -> None:
    tokens = pattern.split(".")
    if not pattern or any(not t or any(c.isspace() for c in t) for t in tokens):
        raise TransportError(f"invalid subject filter {pattern!r}", retryable=False)
    for i, token in enumerate(tokens):
        if token == ">" and i != len(tokens) - 1:
            raise TransportError(f"invalid subject filter {pattern!r}: '>' must be last", retryable=False)
        if token not in ("*", ">") and ("*" in token or ">" in token):
            raise TransportError(f"invalid subject filter {pattern!r}: wildcards must be whole tokens", retryable=False)


def matches(pattern: str, subject: str) -> bool:
    """Whether ``subject`` is selected by the filter ``pattern``."""
    if "*" not in pattern and ">" not in pattern:
        return pattern == subject
    want = pattern.split(".")
    have = subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have):
            return False
        if token != "*" and token != have[i]:
            return False
    return len(have) == len(want)


class Matcher:
    """``matches`` with a memo per subject: the hot path sees few distinct subjects."""

    __slots__ = ("_memo", "pattern")

    def __init__(self, pattern: str) -> None:
        check_filter(pattern)
        self.pattern = pattern
        self._memo: dict[str, bool] = {"": False}
        """The empty subject marks a purged slot of the memory stream: never a match."""

    def __call__(self, subject: str) -> bool:
        hit = self._memo.get(subject)
        if hit is None:
            if len(self._memo) >= 100_000:
                self._memo = {"": False}
            hit = self._memo[subject] = matches(self.pattern, subject)
        return hit
