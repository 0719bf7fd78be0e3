"""What the TickStockPL consumer is told: the contract's Redis names, its limits, intervals and delays."""

from __future__ import annotations

from dataclasses import dataclass

from tickstock_server.producer.channels import ProducerChannels
from tickstock_server.producer.messages import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_PATTERN_TTL_S

__all__ = ["PatternConsumerConfig", "ProducerChannels"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternConsumerConfig:
    """Tuning of `PatternConsumer`."""

    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    """Larger messages are rejected unparsed ("oversized"), bytes."""
    default_pattern_ttl_s: float = DEFAULT_PATTERN_TTL_S
    """Lifetime of a pattern without ``expires_at``, seconds after its detection."""
    heartbeat_poll_s: float = 5.0
    """Interval between reads of the heartbeat key, seconds. The producer writes it every 60 s."""
    reconnect_initial_s: float = 0.5
    """First delay before resubscribing after a lost connection, seconds; doubles per failed attempt."""
    reconnect_max_s: float = 30.0
    """Longest delay between resubscription attempts, seconds."""
    socket_timeout_s: float = 5.0
    """Timeout of connecting and of commands (SUBSCRIBE, GET), seconds. Pub/sub reads have none: a quiet
    channel is normal; `idle_ping_s` watches them instead."""
    idle_ping_s: float = 30.0
    """After this long without traffic the consumer sends PING; no reply within as long again counts as a
    lost connection (a silently dead TCP connection would otherwise look connected for ever), seconds."""
    log_interval_s: float = 60.0
    """Each reject (or handler error) reason is logged at most once per interval, seconds."""

    def __post_init__(self) -> None:
        if self.max_message_bytes < 1:
            raise ValueError("max_message_bytes must be >= 1")
        if self.default_pattern_ttl_s < 0:
            raise ValueError("default_pattern_ttl_s must be >= 0")
        if not 0 < self.reconnect_initial_s <= self.reconnect_max_s:
            raise ValueError("need 0 < reconnect_initial_s <= reconnect_max_s")
        if min(self.heartbeat_poll_s, self.socket_timeout_s, self.idle_ping_s) <= 0:
            raise ValueError("heartbeat_poll_s, socket_timeout_s and idle_ping_s must be > 0")
        if self.log_interval_s < 0:
            raise ValueError("log_interval_s must be >= 0")
