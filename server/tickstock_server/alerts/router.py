"""Alert routing: matches patterns to subscriptions, applies quiet hours and rate limits, feeds alert streams.

`AlertRouter` indexes the active subscriptions by symbol (plus a set of those that want every symbol), so
routing a pattern looks only at the subscriptions that can match it. Each matching subscription of a user
with an open stream is checked against its quiet hours (in its own time zone, at the routing time) and
then its rolling-hour rate limit; what passes is offered to every open `AlertStream` of that user, and
what does not is counted per subscription and reported in band by each stream as `AlertsSuppressed`.

Alerts are live only: a pattern that arrives while the user has no open stream is neither delivered
later nor counted against the rate limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

from tickstock_server.alerts.router_stats import AlertRouterStats
from tickstock_server.alerts.stream import AlertStream, AlertStreamEnd
from tickstock_server.domain.alerts import (
    Alert,
    AlertsSuppressed,
    AlertSubscription,
    QuietHours,
    load_time_zone,
    local_minute_of_day,
)
from tickstock_server.domain.patterns import Pattern
from tickstock_server.errors import NotFoundError, NotReadyError
from tickstock_server.support.metric_samples import MetricSample
from tickstock_server.support.stream_limits import StreamLimiter
from tickstock_server.support.time_units import NS_PER_HOUR

_logger = logging.getLogger(__name__)

UniverseResolver = Callable[[Sequence[str]], Awaitable[frozenset[str]]]
"""Returns the member symbols of the named universes (e.g. `UniverseCatalog.resolve`); raises
`NotFoundError` for an unknown name."""

DEFAULT_STREAM_CAPACITY = 1000
"""Items an alert stream may hold before it overflows."""
DEFAULT_MAX_STREAMS_PER_USER = 5
"""Alert streams one user may have open at once."""


class _RollingHourLimit:
    """At most `max_per_hour` acquisitions in any rolling hour: keeps the last `max_per_hour` times."""

    __slots__ = ("_times",)

    def __init__(self, max_per_hour: int) -> None:
        self._times: deque[int] = deque(maxlen=max_per_hour)

    def try_acquire(self, now_ns: int) -> bool:
        times = self._times
        # Full and the oldest of the last `max_per_hour` deliveries less than an hour ago: over the limit.
        if len(times) == times.maxlen and now_ns - times[0] < NS_PER_HOUR:
            return False
        times.append(now_ns)  # drops the oldest when full
        return True


class _ActiveSubscription:
    __slots__ = (
        "limit",
        "pattern_types",
        "quiet_hours",
        "quiet_hours_total",
        "rate_limited_total",
        "subscription",
        "symbols",
        "zone",
    )

    def __init__(self, subscription: AlertSubscription, symbols: frozenset[str] | None) -> None:
        zone = load_time_zone(subscription.time_zone)
        if zone is None:
            raise ValueError(f"unknown time zone {subscription.time_zone!r}")
        self.subscription = subscription
        self.symbols = symbols
        """Resolved symbols; None for every symbol."""
        self.pattern_types = frozenset(subscription.pattern_types)
        self.quiet_hours: QuietHours | None = subscription.quiet_hours
        self.zone: ZoneInfo = zone
        self.limit = _RollingHourLimit(subscription.max_alerts_per_hour)
        self.quiet_hours_total = 0
        self.rate_limited_total = 0


class AlertRouter:
    """The active alert subscriptions and the open alert streams; routes each new pattern to them."""

    def __init__(
        self,
        *,
        resolver: UniverseResolver,
        stream_capacity: int = DEFAULT_STREAM_CAPACITY,
        max_streams_per_user: int = DEFAULT_MAX_STREAMS_PER_USER,
    ) -> None:
        """Create an empty router.

        Args:
            resolver: Resolves universe names to symbols when subscriptions are loaded or activated.
            stream_capacity: Items each alert stream may queue before it overflows.
            max_streams_per_user: Alert streams one user may have open at once.
        """
        self._resolver = resolver
        self._stream_capacity = stream_capacity
        self._stream_limits = StreamLimiter(
            max_streams_per_user, refusal="at most {limit} concurrent alert streams per user"
        )
        self._active: dict[str, _ActiveSubscription] = {}
        self._by_symbol: dict[str, set[str]] = {}
        self._all_symbols: set[str] = set()
        self._streams: dict[str, set[AlertStream]] = {}
        self._load_lock = asyncio.Lock()
        self._changes_during_load: dict[str, bool] | None = None  # id -> added (True) or removed
        self._shut_down = False
        self._delivered = 0
        self._quiet_hours_suppressed = 0
        self._rate_limited = 0
        self._overflowed_streams = 0
        self._sent = 0

    # --- subscriptions ---------------------------------------------------------------------------------

    async def load(self, subscriptions: Iterable[AlertSubscription]) -> None:
        """Make `subscriptions` the active set, resolving their universes again.

        Use it at start (with `AlertStore.all_subscriptions()`) and to refresh universe members or pick
        up other replicas' changes. Subscriptions that stay active keep their rate-limit state; changes
        made through `add`/`remove` while the load awaited the resolver win over the loaded snapshot. A
        universe that no longer exists is logged and resolves to no symbols.

        Raises:
            DependencyUnavailableError: The resolver's database is unreachable; nothing changed.
        """
        wanted = {subscription.subscription_id: subscription for subscription in subscriptions}
        async with self._load_lock:
            self._changes_during_load = {}
            try:
                members = await self._resolve_names(
                    {name for subscription in wanted.values() for name in subscription.universes}
                )
            finally:
                changes, self._changes_during_load = self._changes_during_load, None
            for subscription_id in [key for key in self._active if key not in wanted]:
                if not changes.get(subscription_id, False):
                    self._unindex(subscription_id)
            for subscription_id, subscription in wanted.items():
                if subscription_id in changes:
                    continue
                try:
                    self._index(subscription, _union(subscription, members), keep_state=True)
                except ValueError:
                    # Stored before this host's time zone database lost the zone: skip it, keep the rest.
                    _logger.warning(
                        "alert subscription %s names time zone %r, unknown here; it stays inactive",
                        subscription_id,
                        subscription.time_zone,
                    )
                    self._unindex(subscription_id)
        _logger.info("alert router loaded %d subscriptions", len(self._active))

    async def activate(self, subscription: AlertSubscription) -> None:
        """Resolve the universes of a newly created subscription and make it active.

        Raises:
            DependencyUnavailableError: The resolver's database is unreachable.
        """
        members = await self._resolve_names(set(subscription.universes))
        self.add(subscription, frozenset[str]().union(*(members[name] for name in subscription.universes)))

    def add(self, subscription: AlertSubscription, universe_symbols: frozenset[str] = frozenset()) -> None:
        """Make a subscription active; it replaces an active one of the same id with fresh state.

        Args:
            subscription: A valid subscription (see `validate_alert_subscription`).
            universe_symbols: The members of its universes, already resolved.
        """
        if self._changes_during_load is not None:
            self._changes_during_load[subscription.subscription_id] = True
        symbols = frozenset(subscription.symbols) | universe_symbols
        self._index(subscription, None if subscription.matches_all_symbols else symbols, keep_state=False)

    def remove(self, subscription_id: str) -> None:
        """Deactivate a subscription (idempotent)."""
        if self._changes_during_load is not None:
            self._changes_during_load[subscription_id] = False
        self._unindex(subscription_id)

    @property
    def subscription_count(self) -> int:
        """Active subscriptions."""
        return len(self._active)

    def suppressed_totals(self, subscription_id: str) -> AlertsSuppressed:
        """Alerts of a subscription withheld since it became active, by reason.

        Raises:
            NotFoundError: The subscription is not active.
        """
        active = self._active.get(subscription_id)
        if active is None:
            raise NotFoundError(f"no active alert subscription {subscription_id!r}")
        return AlertsSuppressed(
            subscription_id=subscription_id,
            quiet_hours_count=active.quiet_hours_total,
            rate_limited_count=active.rate_limited_total,
        )

    # --- routing ---------------------------------------------------------------------------------------

    def route(self, pattern: Pattern, now_ns: int) -> int:
        """Deliver `pattern` to the open streams of every user with a matching subscription.

        Args:
            pattern: A new pattern.
            now_ns: Current time, UTC epoch ns: quiet hours and the rate limit are judged at it.

        Returns:
            Alerts delivered (one per passing subscription, whatever its user's number of streams).
        """
        delivered = 0
        local_minutes: dict[ZoneInfo, int] = {}
        for ids in (self._by_symbol.get(pattern.symbol, ()), self._all_symbols):
            for subscription_id in ids:
                active = self._active[subscription_id]
                streams = self._streams.get(active.subscription.user)
                if not streams or not self._matches(active, pattern):
                    continue
                if active.quiet_hours is not None:
                    minute = local_minutes.get(active.zone)
                    if minute is None:
                        minute = local_minutes[active.zone] = local_minute_of_day(now_ns, active.zone)
                    if active.quiet_hours.contains(minute):
                        active.quiet_hours_total += 1
                        self._quiet_hours_suppressed += 1
                        for stream in streams:
                            stream.note_suppressed(subscription_id, quiet_hours=1)
                        continue
                if not active.limit.try_acquire(now_ns):
                    active.rate_limited_total += 1
                    self._rate_limited += 1
                    for stream in streams:
                        stream.note_suppressed(subscription_id, rate_limited=1)
                    continue
                alert = Alert(subscription_id=subscription_id, pattern=pattern)
                for stream in streams:
                    stream.offer(alert)
                delivered += 1
        self._delivered += delivered
        return delivered

    # --- streams ---------------------------------------------------------------------------------------

    def open_stream(self, user: str) -> AlertStream:
        """Open an alert stream of `user`; close it (or use it as a context manager) when done.

        Raises:
            LimitExceededError: The user already has the most streams allowed open.
            NotReadyError: The router is shutting down.
        """
        if self._shut_down:
            raise NotReadyError("the server is shutting down; reconnect to another replica or retry")
        self._stream_limits.acquire(user)
        stream = AlertStream(
            user,
            self._stream_capacity,
            on_close=self._detach,
            on_overflow=self._note_overflow,
            on_sent=self._note_sent,
        )
        self._streams.setdefault(user, set()).add(stream)
        return stream

    def open_streams(self, user: str) -> int:
        """Streams `user` has open now."""
        return self._stream_limits.open_streams(user)

    def _detach(self, stream: AlertStream) -> None:
        streams = self._streams.get(stream.user)
        if streams is None or stream not in streams:
            return
        streams.discard(stream)
        self._stream_limits.release(stream.user)
        if not streams:
            del self._streams[stream.user]

    def _note_overflow(self) -> None:
        self._overflowed_streams += 1

    def _note_sent(self) -> None:
        self._sent += 1

    def shutdown(self) -> None:
        """End every stream with `AlertStreamEnd.SHUTDOWN` after its queued items; refuse new streams."""
        self._shut_down = True
        for streams in self._streams.values():
            for stream in streams:
                stream.end(AlertStreamEnd.SHUTDOWN)

    def stats(self) -> AlertRouterStats:
        """Current counters."""
        return AlertRouterStats(
            subscriptions=len(self._active),
            streams=self._stream_limits.total,
            delivered=self._delivered,
            sent=self._sent,
            queued=sum(
                stream.queue_depth for streams in list(self._streams.values()) for stream in list(streams)
            ),
            quiet_hours_suppressed=self._quiet_hours_suppressed,
            rate_limited=self._rate_limited,
            overflowed_streams=self._overflowed_streams,
        )

    def metric_samples(self) -> list[MetricSample]:
        """The samples of `stats`."""
        return self.stats().metric_samples()

    # --- internals -------------------------------------------------------------------------------------

    @staticmethod
    def _matches(active: _ActiveSubscription, pattern: Pattern) -> bool:
        if active.pattern_types and pattern.pattern_type not in active.pattern_types:
            return False
        return pattern.confidence >= active.subscription.min_confidence

    def _index(
        self, subscription: AlertSubscription, symbols: frozenset[str] | None, *, keep_state: bool
    ) -> None:
        subscription_id = subscription.subscription_id
        previous = self._active.get(subscription_id)
        if previous is not None:
            self._unindex(subscription_id)
        active = _ActiveSubscription(subscription, symbols)
        if keep_state and previous is not None:
            active.limit = previous.limit
            active.quiet_hours_total = previous.quiet_hours_total
            active.rate_limited_total = previous.rate_limited_total
        self._active[subscription_id] = active
        if symbols is None:
            self._all_symbols.add(subscription_id)
        else:
            for symbol in symbols:
                self._by_symbol.setdefault(symbol, set()).add(subscription_id)

    def _unindex(self, subscription_id: str) -> None:
        active = self._active.pop(subscription_id, None)
        if active is None:
            return
        if active.symbols is None:
            self._all_symbols.discard(subscription_id)
            return
        for symbol in active.symbols:
            members = self._by_symbol.get(symbol)
            if members is not None:
                members.discard(subscription_id)
                if not members:
                    del self._by_symbol[symbol]

    async def _resolve_names(self, names: set[str]) -> dict[str, frozenset[str]]:
        # One call per distinct name: a load resolves each universe once however many subscriptions
        # name it, and one deleted universe does not hide the members of the others.
        members: dict[str, frozenset[str]] = {}
        for name in sorted(names):
            try:
                members[name] = await self._resolver([name])
            except NotFoundError:
                _logger.warning("alert subscriptions name universe %r, which does not exist", name)
                members[name] = frozenset()
        return members


def _union(subscription: AlertSubscription, members: dict[str, frozenset[str]]) -> frozenset[str] | None:
    """The symbols a subscription watches: its tickers and its universes' members; None for every symbol."""
    if subscription.matches_all_symbols:
        return None
    return frozenset(subscription.symbols).union(*(members[name] for name in subscription.universes))
