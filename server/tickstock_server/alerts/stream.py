"""An alert stream: one user's bounded mailbox of alerts and suppression notices, drained by the handler."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from tickstock_server.domain.alerts import Alert, AlertsSuppressed
from tickstock_server.support.mailbox import Mailbox


class AlertStreamEnd(enum.Enum):
    """Why an alert stream ended."""

    CLOSED = "closed"
    """The stream's owner closed it."""
    OVERLOADED = "overloaded"
    """The reader was too slow and the queue overflowed; the queued items were delivered first."""
    SHUTDOWN = "shutdown"
    """The server is stopping; the queued items were delivered first."""


@dataclass(frozen=True, slots=True)
class AlertHeartbeat:
    """Nothing was delivered for a heartbeat interval (the queue is empty)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertStreamEnded:
    """The stream is over; `receive` returns this for every later call."""

    reason: AlertStreamEnd
    dropped: int
    """Alerts not queued because the stream had overflowed."""


AlertStreamItem = Alert | AlertsSuppressed | AlertHeartbeat | AlertStreamEnded
"""What `AlertStream.receive` returns."""


class AlertStream:
    """One open alert stream of a user: a bounded mailbox the router fills and the stream handler drains.

    Overflow policy: when an alert does not fit (the mailbox holds `capacity` items, notices included,
    pending ones too), the stream ends with `AlertStreamEnd.OVERLOADED`. The items already queued are
    still delivered, then `AlertStreamEnded` with the number of alerts that did not fit; the handler
    should fail the call with RESOURCE_EXHAUSTED so the client learns it missed alerts. Dropping the
    oldest instead would lose alerts with no way to tell the client: `AlertsSuppressed` only counts
    quiet hours and rate limits.

    Suppression counts since the previous notice accumulate per subscription and are sent as
    `AlertsSuppressed` just before the next alert, or at the next heartbeat tick when no alert comes.
    """

    def __init__(
        self,
        user: str,
        capacity: int,
        *,
        on_close: Callable[[AlertStream], None] = lambda stream: None,
        on_overflow: Callable[[], None] = lambda: None,
        on_sent: Callable[[], None] = lambda: None,
    ) -> None:
        """Create an open stream.

        Args:
            user: Owner.
            capacity: Most items (alerts and notices) the queue holds.
            on_close: Called once by `close`, to detach the stream from its router.
            on_overflow: Called once when the queue overflows, for the router's counters.
            on_sent: Called for each alert `receive` returns, for the router's counters.
        """
        self.user = user
        self.capacity = capacity
        self._on_close = on_close
        self._on_overflow = on_overflow
        self._on_sent = on_sent
        # No `on_overload` callback: a bound method of the stream kept in its mailbox would be a reference
        # cycle; `offer` notices the overflow itself.
        self._mailbox: Mailbox[Alert | AlertsSuppressed] = Mailbox(capacity)
        self._pending: dict[str, list[int]] = {}  # subscription id -> [quiet hours, rate limited]
        self._end: AlertStreamEnd | None = None
        self._closed = False

    @property
    def dropped(self) -> int:
        """Alerts not queued because the stream had overflowed."""
        return self._mailbox.dropped

    @property
    def queue_depth(self) -> int:
        """Items waiting to be received."""
        return len(self._mailbox)

    @property
    def end_reason(self) -> AlertStreamEnd | None:
        """Why the stream ended (its queue may still hold items), or None while it is live."""
        return self._end

    def offer(self, alert: Alert) -> None:
        """Queue an alert after any pending notices; on overflow, end the stream (called by the router)."""
        mailbox = self._mailbox
        was_overloaded = mailbox.overloaded
        if mailbox.put_after(self._notices(), alert):
            self._pending.clear()
        elif mailbox.overloaded and not was_overloaded:
            self._overloaded()

    def note_suppressed(self, subscription_id: str, *, quiet_hours: int = 0, rate_limited: int = 0) -> None:
        """Count withheld alerts of a subscription for the next notice (called by the router)."""
        if self._end is not None:
            return
        counts = self._pending.setdefault(subscription_id, [0, 0])
        counts[0] += quiet_hours
        counts[1] += rate_limited

    async def receive(self, heartbeat_s: float) -> AlertStreamItem:
        """Wait for the next item.

        Args:
            heartbeat_s: Idle time in seconds after which pending notices, or else a heartbeat, are
                returned.

        Returns:
            An alert, a suppression notice, a heartbeat, or `AlertStreamEnded` once the stream is over
            and its queue drained (again on every later call).
        """
        if heartbeat_s <= 0:
            raise ValueError(f"heartbeat_s must be positive, not {heartbeat_s}")
        mailbox = self._mailbox
        while True:
            if self._closed:
                return AlertStreamEnded(reason=self._end or AlertStreamEnd.CLOSED, dropped=self.dropped)
            if mailbox:
                item = mailbox.take()
                if isinstance(item, Alert):
                    self._on_sent()
                return item
            if self._end is not None:
                if not self._pending:
                    return AlertStreamEnded(reason=self._end, dropped=self.dropped)
                self._flush_pending()
                continue
            if not await mailbox.wait(heartbeat_s):
                if mailbox or self._end is not None or self._closed:
                    continue
                if self._pending:
                    self._flush_pending()
                    continue
                return AlertHeartbeat()

    def close(self) -> None:
        """End the stream and detach it from the router (idempotent); queued items are discarded."""
        if self._closed:
            return
        self._closed = True
        self._end = self._end or AlertStreamEnd.CLOSED
        self._mailbox.clear()
        self._pending.clear()
        self._mailbox.close()
        self._on_close(self)

    def __enter__(self) -> AlertStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def end(self, reason: AlertStreamEnd) -> None:
        """End the stream after its queued items (called by the router); the first reason wins."""
        if self._end is None:
            self._end = reason
            self._mailbox.close()

    def _overloaded(self) -> None:
        # The mailbox overflowed while the stream was live, so no other reason was given.
        self._end = AlertStreamEnd.OVERLOADED
        self._on_overflow()

    def _notices(self) -> list[AlertsSuppressed]:
        return [
            AlertsSuppressed(
                subscription_id=subscription_id,
                quiet_hours_count=quiet_hours,
                rate_limited_count=rate_limited,
            )
            for subscription_id, (quiet_hours, rate_limited) in self._pending.items()
        ]

    def _flush_pending(self) -> None:
        # Notices are never refused: they go out even after the end, before `AlertStreamEnded`.
        self._mailbox.push(self._notices())
        self._pending.clear()
