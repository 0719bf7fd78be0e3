"""Live pattern streams: each gets the new cached patterns its filter selects, through a bounded mailbox."""

from __future__ import annotations

from tickstock_server.domain.patterns import Pattern
from tickstock_server.errors import SubscriberOverloadedError
from tickstock_server.patterns.scan import ScanQuery
from tickstock_server.support.mailbox import Mailbox


class PatternSubscription:
    """One live pattern stream.

    When its mailbox of `capacity` patterns is full the stream ends (RESOURCE_EXHAUSTED) once the
    patterns already queued are delivered: a client that cannot keep up rescans with ScanPatterns;
    nothing is dropped silently.
    """

    def __init__(self, query: ScanQuery, capacity: int) -> None:
        self.query = query
        self.capacity = capacity
        self._mailbox: Mailbox[Pattern] = Mailbox(capacity)

    def offer(self, pattern: Pattern) -> None:
        """Queue a new pattern when the filter selects it (a cache listener: synchronous, never blocks)."""
        if self._mailbox.overloaded or not self.query.matches(pattern):
            return
        self._mailbox.put(pattern)

    async def receive(self, heartbeat_s: float) -> Pattern | None:
        """The next pattern, or None after `heartbeat_s` of silence.

        Raises:
            SubscriberOverloadedError: The queue overflowed.
        """
        mailbox = self._mailbox
        while True:
            if mailbox:
                return mailbox.take()
            if mailbox.overloaded:
                raise SubscriberOverloadedError(
                    f"the client read too slowly and its queue of {self.capacity} patterns overflowed; "
                    "use ScanPatterns to catch up"
                )
            if not await mailbox.wait(heartbeat_s):
                return None
