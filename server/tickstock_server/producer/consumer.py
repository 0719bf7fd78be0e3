"""TickStockPL consumer: the producer's Redis channels validated and handed to a handler; its heartbeat."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, Protocol

from tickstock_server.domain.backtests import OutcomeReport
from tickstock_server.domain.patterns import Pattern
from tickstock_server.errors import MessageRejectedError
from tickstock_server.ports.producer import ProducerLinkFactory
from tickstock_server.producer.consumer_settings import PatternConsumerConfig, ProducerChannels
from tickstock_server.producer.events import BacktestProgress, PatternExpiry, ProducerHealth
from tickstock_server.producer.messages import (
    parse_backtest_outcome,
    parse_backtest_progress,
    parse_pattern_message,
    parse_producer_health,
)
from tickstock_server.support.log_limiter import LogLimiter
from tickstock_server.support.metric_samples import MetricSample, counter, counters_by_reason, gauge

__all__ = [
    "CONSUMER_REASONS",
    "PatternConsumer",
    "PatternConsumerConfig",
    "ProducerChannels",
    "ProducerEventHandler",
]

_logger = logging.getLogger(__name__)

_DEFAULT_CHANNELS: Final = ProducerChannels()
_DEFAULT_CONFIG: Final = PatternConsumerConfig()

CONSUMER_REASONS: Final = frozenset({"unknown_channel", "handler_error"})
"""Reasons the consumer counts besides the parse functions' `REJECT_REASONS`."""


class ProducerEventHandler(Protocol):
    """Receives what the producer reports. Called inline on the event loop: keep each call short, no I/O."""

    def on_pattern(self, pattern: Pattern) -> None:
        """A pattern was detected (or updated: same id when the producer sent the same flow id)."""

    def on_backtest_progress(self, progress: BacktestProgress) -> None:
        """A backtest job progressed."""

    def on_backtest_outcome(self, report: OutcomeReport) -> None:
        """A backtest job ended."""

    def on_producer_health(self, health: ProducerHealth) -> None:
        """The producer reported its health."""


class PatternConsumer:
    """Subscribes to the producer's four channels, validates every message and hands it to a handler.

    Each message is parsed by its channel's parse function (`messages`) and the typed value goes to the
    `ProducerEventHandler`. Every received message ends up in exactly one counter: `processed_total`
    (delivered), `ignored_total` (``pattern_expired`` notices) or `invalid_total` (by reason in
    `invalid_by_reason`: the parse functions' `REJECT_REASONS`, "unknown_channel", and "handler_error"
    when the handler raised). Each reason is logged at WARNING at most once per `log_interval_s`; nothing
    a message holds, and no handler error, stops the loop.

    The Redis side is a `ProducerSubscription`: own connections (RESP2, no redis-py retries), `connected`
    False from a lost connection (or an unanswered PING after `idle_ping_s` of silence) until every
    channel is subscribed again, resubscription after `reconnect_initial_s` doubling up to
    `reconnect_max_s` with jitter, counted in `reconnects`. Messages published while disconnected are
    lost: that is pub/sub; the pattern cache's Redis mirror is what survives.

    Bounded by design: messages are handled inline as they are read, with no queue in between. If the
    handler falls behind the producer, unread messages wait in Redis' output buffer for this client; past
    Redis' ``client-output-buffer-limit pubsub`` (by default 32 MB, or 8 MB for 60 s), Redis drops the
    connection, and the consumer reconnects as above (counted in `reconnects`; the buffered messages are
    lost).

    The heartbeat key is read every `heartbeat_poll_s` into `producer_heartbeat_ns`; a failed read keeps
    the last value (its age keeps growing), a missing or malformed value makes it None.
    """

    def __init__(
        self,
        link: ProducerLinkFactory,
        handler: ProducerEventHandler,
        *,
        channels: ProducerChannels = _DEFAULT_CHANNELS,
        config: PatternConsumerConfig = _DEFAULT_CONFIG,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        """Create the consumer; nothing connects until `run()`.

        Args:
            link: Makes the subscription to the producer's channels (`bus.producer_subscription`).
            handler: Receives the validated values.
            channels: Channel and key names.
            config: Limits, intervals and delays.
            clock_ns: Wall clock, UTC epoch ns: receive times (the detection time of a pattern that has
                none) and the log rate limit.
        """
        self._handler = handler
        self._config = config
        self._clock_ns = clock_ns
        self._ttl_s = config.default_pattern_ttl_s
        self._max_bytes = config.max_message_bytes
        self._names = (
            channels.patterns,
            channels.backtest_progress,
            channels.backtest_results,
            channels.health,
        )
        # Channel names arrive as bytes; str keys serve callers of handle_message with decoded names.
        self._routes: dict[bytes | str, Callable[[Any, int], object]] = {}
        parsers = self._parsers()
        self._pattern_parse = parsers[0]
        for name, parse in zip(self._names, parsers, strict=True):
            self._routes[name] = parse
            self._routes[name.encode()] = parse
        self._invalid_by_reason: Counter[str] = Counter()
        self._log_limiter = LogLimiter(config.log_interval_s, clock_ns)
        self._subscription = link(self._names, channels.heartbeat_key, self.handle_message)
        self.processed_total = 0
        """Messages validated and delivered to the handler."""
        self.ignored_total = 0
        """Valid messages deliberately not delivered (``pattern_expired`` notices)."""
        self.invalid_total = 0
        """Messages rejected or failed in the handler; the sum of `invalid_by_reason`."""
        self.last_message_ns: int | None = None
        """Receive time of the last delivered message, UTC epoch ns; None before the first."""
        self.patterns_received = 0
        """Messages on the patterns channel: accepted, rejected or ignored (``pattern_expired``)."""
        self.patterns_accepted = 0
        """Patterns validated and taken by the handler."""
        self._patterns_rejected: Counter[str] = Counter()

    @property
    def connected(self) -> bool:
        """True while subscribed to every channel; False before, while reconnecting, and after `run()`."""
        return self._subscription.connected

    @property
    def reconnects(self) -> int:
        """Returns to `connected` after a lost connection."""
        return self._subscription.reconnects

    @property
    def producer_heartbeat_ns(self) -> int | None:
        """The producer's last heartbeat, UTC epoch ns; None when the key is missing or malformed."""
        return self._subscription.heartbeat_ns

    @property
    def invalid_by_reason(self) -> Mapping[str, int]:
        """Invalid messages by reason (read-only view)."""
        return MappingProxyType(self._invalid_by_reason)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The channels subscribed to: patterns, backtest progress, backtest results, health."""
        return self._names

    def metric_samples(self) -> list[MetricSample]:
        """Messages processed, ignored and invalid (by reason), reconnects, and the connection state."""
        samples = [
            counter(
                "tickstock_producer_messages_processed",
                "Producer messages validated and delivered to the pattern cache, backtests or health.",
                self.processed_total,
            ),
            counter(
                "tickstock_producer_messages_ignored",
                "Valid producer messages deliberately not delivered (pattern_expired notices).",
                self.ignored_total,
            ),
        ]
        samples += counters_by_reason(
            "tickstock_producer_messages_invalid",
            "Producer messages rejected, by reason: the parsers' reasons (e.g. not_json, bad_confidence), "
            "unknown_channel, or handler_error when handling it failed.",
            self._invalid_by_reason,
        )
        samples += self._pattern_samples()
        samples += [
            counter(
                "tickstock_producer_reconnects",
                "Returns to connected after a lost connection to the producer's Redis.",
                self.reconnects,
            ),
            gauge(
                "tickstock_producer_connected",
                "1 while subscribed to every producer channel.",
                float(self.connected),
            ),
        ]
        return samples

    def _pattern_samples(self) -> list[MetricSample]:
        rejected = (
            "Pattern messages rejected, by reason (the reasons of tickstock_producer_messages_invalid)."
        )
        return [
            counter(
                "tickstock_patterns_received",
                "Messages on the producer's patterns channel (accepted, rejected or expiry notices).",
                self.patterns_received,
            ),
            counter(
                "tickstock_patterns_accepted",
                "Pattern messages validated and handed on (to the pattern cache, or to the event log).",
                self.patterns_accepted,
            ),
            *counters_by_reason("tickstock_patterns_rejected", rejected, self._patterns_rejected),
        ]

    async def run(self) -> None:
        """Consume, and poll the heartbeat, until cancelled. Run it once at a time."""
        await self._subscription.run()

    def handle_message(self, channel: bytes | str, data: bytes | str) -> None:
        """Validate one pub/sub message of `channel`, deliver it and count it; never raises."""
        received_ns = self._clock_ns()
        parse = self._routes.get(channel)
        if parse is None:
            self._count_invalid("unknown_channel", channel, "not a producer channel", received_ns)
            return
        is_pattern = parse is self._pattern_parse
        self.patterns_received += is_pattern
        try:
            value = parse(data, received_ns)
        except MessageRejectedError as exc:
            self._count_invalid(exc.reason, channel, exc.detail, received_ns, is_pattern=is_pattern)
            return
        try:
            if isinstance(value, Pattern):
                self._handler.on_pattern(value)
                self.patterns_accepted += 1
            elif isinstance(value, PatternExpiry):
                self.ignored_total += 1
                return
            elif isinstance(value, BacktestProgress):
                self._handler.on_backtest_progress(value)
            elif isinstance(value, OutcomeReport):
                self._handler.on_backtest_outcome(value)
            else:
                assert isinstance(value, ProducerHealth)
                self._handler.on_producer_health(value)
        except Exception:  # a handler bug must not stop the consumer: counted and logged, rate-limited
            self.invalid_total += 1
            self._invalid_by_reason["handler_error"] += 1
            if is_pattern:
                self._patterns_rejected["handler_error"] += 1
            if self._log_limiter.allow("handler_error", received_ns):
                _logger.exception(
                    "The handler failed on a message of %s (%d handler errors so far; logged at most once "
                    "every %.0f s)",
                    _text(channel),
                    self._invalid_by_reason["handler_error"],
                    self._config.log_interval_s,
                )
            return
        self.processed_total += 1
        self.last_message_ns = received_ns

    def _parsers(self) -> tuple[Callable[[Any, int], object], ...]:
        def pattern(data: Any, received_ns: int) -> object:
            return parse_pattern_message(
                data, received_ns=received_ns, default_ttl_s=self._ttl_s, max_bytes=self._max_bytes
            )

        def progress(data: Any, received_ns: int) -> object:
            return parse_backtest_progress(data, received_ns=received_ns, max_bytes=self._max_bytes)

        def outcome(data: Any, received_ns: int) -> object:
            return parse_backtest_outcome(data, received_ns=received_ns, max_bytes=self._max_bytes)

        def health(data: Any, received_ns: int) -> object:
            return parse_producer_health(data, received_ns=received_ns, max_bytes=self._max_bytes)

        return pattern, progress, outcome, health

    def _count_invalid(
        self, reason: str, channel: bytes | str, detail: str, now_ns: int, *, is_pattern: bool = False
    ) -> None:
        self.invalid_total += 1
        self._invalid_by_reason[reason] += 1
        if is_pattern:
            self._patterns_rejected[reason] += 1
        if self._log_limiter.allow(reason, now_ns):
            _logger.warning(
                "Rejected a message on %s: %s (%s); %d rejected for this reason so far, logged at most once "
                "every %.0f s",
                _text(channel),
                reason,
                detail,
                self._invalid_by_reason[reason],
                self._config.log_interval_s,
            )


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
