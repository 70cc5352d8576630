"""Pull requests kept in flight for a JetStream pull consumer, so messages stream in while
the consumer works instead of one request round trip per batch.

nats-py's ``fetch`` sends one request, then waits for each message with its own timer
(a task per message) and returns only when the batch is complete or the request is over.
Here the messages of every request land in one deque through a subscription callback,
and the next request goes out as soon as the open one is answered (or, with
``in_flight`` above 1, while it is still being served). ``PullRequests``
is the bookkeeping (pure: time is passed in): what is asked and not yet delivered, which
request a status message ends, and how much to ask for next.

Protocol (JetStream): a request is published to ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>``
with ``{"batch": n, "expires": ns}`` and the reply subject where the messages come. The
server serves requests in order. It ends a request early with a status message
(``404`` no messages, ``408`` request expired, ``409`` e.g. a leadership change or a
deleted consumer); ``100`` is a heartbeat. A request the server lost (it restarted)
ends by its own deadline here.
"""

from __future__ import annotations

from collections import deque

API_PREFIX = "$JS.API"
STATUS = "Status"
HEARTBEAT = "100"
FATAL = ("consumer deleted", "consumer is push based")
"""409 descriptions after which asking again cannot help."""


def next_subject(stream: str, consumer: str) -> str:
    return f"{API_PREFIX}.CONSUMER.MSG.NEXT.{stream}.{consumer}"


class PullRequests:
    """Requests in flight, oldest first, as ``[deadline, messages still due]``."""

    def __init__(self, batch: int, expires: float, in_flight: int = 2) -> None:
        self.batch = batch
        self.expires = expires
        """Seconds the server keeps a request open."""
        self.in_flight = in_flight
        self.asked: deque[list[float]] = deque()

    @property
    def due(self) -> int:
        """Messages asked for and not yet delivered."""
        return int(sum(r[1] for r in self.asked))

    def to_ask(self, now: float, room: int) -> int:
        """How many to ask for now (0: nothing), given ``room`` messages the consumer may
        still take (its ack limit less what it holds); forgets requests past their deadline."""
        while self.asked and self.asked[0][0] <= now:
            self.asked.popleft()
        want = min(self.batch, room - self.due)
        if len(self.asked) >= self.in_flight or want <= 0:
            return 0
        if self.asked and want < self.batch // 4:
            return 0  # one is still being served: wait to ask for a worthwhile batch
        return want

    def sent(self, n: int, now: float) -> None:
        self.asked.append([now + self.expires + 0.5, float(n)])

    def delivered(self) -> None:
        """A message came: it belongs to the oldest open request."""
        if self.asked:
            head = self.asked[0]
            head[1] -= 1
            if head[1] <= 0:
                self.asked.popleft()

    def ended(self) -> None:
        """A status message ended the oldest open request early."""
        if self.asked:
            self.asked.popleft()

    def lost(self) -> None:
        """The connection dropped: the server forgot every request."""
        self.asked.clear()
