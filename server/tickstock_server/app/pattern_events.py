"""Patterns into the event log: every pattern a process takes becomes one PATTERN event.

The event log has one writer per deployment: the all-in-one server, or the ingest process. In the
all-in-one server the pattern cache's listener feeds `PatternEventLog` (the producer's patterns and the
fallback detector's). The ingest process has no pattern side: `ingest_pattern_consumer` gives it a
producer consumer of its own whose patterns go only to the log (the gateways handle backtest reports),
and its fallback detector appends its patterns to the log directly (`app/fallback_patterns.py`).
Gateways follow the event stream, so pattern events reach their clients like every other event.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import redis.asyncio as aioredis

from tickstock_server.bus.producer_subscription import producer_link
from tickstock_server.config import Settings
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import SubscriptionHub
from tickstock_server.domain.backtests import OutcomeReport
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.domain.market_calendar import MarketCalendar
from tickstock_server.domain.market_session import MarketClock
from tickstock_server.domain.pattern_events import pattern_event
from tickstock_server.domain.patterns import Pattern
from tickstock_server.patterns.service import cap_expiry
from tickstock_server.producer.consumer import PatternConsumer, PatternConsumerConfig
from tickstock_server.producer.events import BacktestProgress, ProducerHealth
from tickstock_server.support.time_units import NS_PER_S


class PatternEventLog:
    """Appends patterns to the event log as PATTERN events, once per pattern id, the way the pipeline does.

    Each pattern is sequenced with the wall clock as its ingest and detect time, published to the
    in-process hub (if any) and queued for the event stream, synchronously: on the event loop, between
    two pipeline batches, so the log keeps its one writer.
    """

    def __init__(
        self,
        log: EventLog,
        *,
        hub: SubscriptionHub | None,
        persist: Callable[[list[LogEntry]], None],
        calendar: MarketCalendar,
        remember: int,
        owns: Callable[[str], bool] = lambda _symbol: True,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        """Append to `log`.

        Args:
            log: The event log of this process.
            hub: The in-process hub (the all-in-one server); None in the ingest process.
            persist: The event stream's buffer (`RedisEventStore.add`).
            calendar: Trading days, for the market status and period of a pattern's detection time.
            remember: Pattern ids kept to recognise a pattern seen before (the oldest is forgotten first).
            owns: Whether this process logs a symbol's patterns: an ingest shard logs its own symbols'.
            clock_ns: Wall clock, UTC epoch ns.
        """
        self._log = log
        self._hub = hub
        self._persist = persist
        self._market = MarketClock(calendar)
        self._remember = remember
        self._clock_ns = clock_ns
        self._owns = owns
        self._seen: OrderedDict[str, None] = OrderedDict()

    def append(self, pattern: Pattern) -> None:
        """Sequence `pattern` as an event, publish it and queue it for the event stream.

        A pattern id seen before (the producer's update of a pattern it sent) appends nothing: one
        pattern is one event.
        """
        seen = self._seen
        if pattern.pattern_id in seen or not self._owns(pattern.symbol):
            return
        if len(seen) >= self._remember:
            seen.popitem(last=False)
        seen[pattern.pattern_id] = None
        now_ns = self._clock_ns()
        event = pattern_event(pattern, self._market.session_at(pattern.detected_ns))
        entries = self._log.append((event,), ingest_ts_ns=now_ns, detect_ts_ns=now_ns)
        if self._hub is not None:
            self._hub.publish(entries)
        self._persist(entries)

    def append_all(self, patterns: Sequence[Pattern]) -> None:
        """`append` each of `patterns` (the fallback detector's of one step), in order."""
        for pattern in patterns:
            self.append(pattern)


class _PatternsToLog:
    """The ingest's producer handler: patterns, capped at the cache TTL, to the event log; nothing else.

    Backtest reports and the producer's health are the gateways' (their own consumers get them).
    """

    def __init__(self, events: PatternEventLog, ttl_s: float, clock_ns: Callable[[], int]) -> None:
        self._events = events
        self._ttl_ns = round(ttl_s * NS_PER_S)
        self._clock_ns = clock_ns

    def on_pattern(self, pattern: Pattern) -> None:
        """Append the pattern with the expiry the gateways' caches give it."""
        self._events.append(cap_expiry(pattern, self._clock_ns() + self._ttl_ns))

    def on_backtest_progress(self, progress: BacktestProgress) -> None:
        """Ignored: the gateways' consumers apply it."""

    def on_backtest_outcome(self, report: OutcomeReport) -> None:
        """Ignored: the gateways' consumers apply it."""

    def on_producer_health(self, health: ProducerHealth) -> None:
        """Ignored: the gateways' consumers report it."""


def ingest_pattern_consumer(
    settings: Settings,
    redis_client: aioredis.Redis,
    events: PatternEventLog,
    *,
    clock_ns: Callable[[], int] = time.time_ns,
) -> PatternConsumer:
    """The ingest's consumer of the producer: its patterns go to `events`; run it until cancelled."""
    ttl_s = settings.patterns.cache_ttl_s
    config = PatternConsumerConfig(default_pattern_ttl_s=ttl_s)
    return PatternConsumer(
        producer_link(redis_client, config),
        _PatternsToLog(events, ttl_s, clock_ns),
        config=config,
        clock_ns=clock_ns,
    )
