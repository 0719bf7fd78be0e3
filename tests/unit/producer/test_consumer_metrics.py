"""Pattern consumer metrics: messages processed, ignored and invalid by reason; patterns received,
accepted and rejected by reason; the connection."""

from __future__ import annotations

import json

from tickstock_server.adapters.memory.producer import MemoryProducerLink
from tickstock_server.domain.backtests import OutcomeReport
from tickstock_server.domain.patterns import Pattern
from tickstock_server.producer.consumer import CONSUMER_REASONS, PatternConsumer
from tickstock_server.producer.events import BacktestProgress, ProducerHealth
from tickstock_server.producer.messages import REJECT_REASONS
from tickstock_server.support.metric_samples import MetricSample

RECEIVED_NS = 1_767_700_000_000_000_000
PATTERNS = "tickstock.events.patterns"


class _Handler:
    def on_pattern(self, pattern: Pattern) -> None:
        if pattern.symbol == "FAIL":
            raise RuntimeError("handler bug")

    def on_backtest_progress(self, progress: BacktestProgress) -> None:
        pass

    def on_backtest_outcome(self, report: OutcomeReport) -> None:
        pass

    def on_producer_health(self, health: ProducerHealth) -> None:
        pass


def _pattern_message(symbol: str) -> bytes:
    data = {"symbol": symbol, "pattern": "Bull_Flag", "confidence": 0.8, "timestamp": 1_767_700_000}
    return json.dumps({"event_type": "pattern_detected", "data": data}).encode()


def _values(samples: list[MetricSample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}


async def test_invalid_messages_are_exported_by_reason_next_to_processed_ones() -> None:
    # Arrange: the link is not running, so the consumer is not connected
    consumer = PatternConsumer(MemoryProducerLink, _Handler(), clock_ns=lambda: RECEIVED_NS)

    # Act
    consumer.handle_message(PATTERNS, _pattern_message("AAPL"))
    consumer.handle_message(PATTERNS, b"not json")
    consumer.handle_message(PATTERNS, b"[1]")
    consumer.handle_message(PATTERNS, b"{also not json")
    consumer.handle_message(PATTERNS, _pattern_message("FAIL"))
    consumer.handle_message("some.other.channel", b"{}")

    # Assert
    assert _values(consumer.metric_samples()) == {
        ("tickstock_producer_messages_processed", ()): 1,
        ("tickstock_producer_messages_ignored", ()): 0,
        ("tickstock_producer_messages_invalid", (("reason", "handler_error"),)): 1,
        ("tickstock_producer_messages_invalid", (("reason", "not_json"),)): 2,
        ("tickstock_producer_messages_invalid", (("reason", "not_object"),)): 1,
        ("tickstock_producer_messages_invalid", (("reason", "unknown_channel"),)): 1,
        ("tickstock_patterns_received", ()): 5,
        ("tickstock_patterns_accepted", ()): 1,
        ("tickstock_patterns_rejected", (("reason", "handler_error"),)): 1,
        ("tickstock_patterns_rejected", (("reason", "not_json"),)): 2,
        ("tickstock_patterns_rejected", (("reason", "not_object"),)): 1,
        ("tickstock_producer_reconnects", ()): 0,
        ("tickstock_producer_connected", ()): 0.0,
    }


async def test_only_pattern_channel_messages_count_as_patterns_with_reasons_from_the_known_set() -> None:
    consumer = PatternConsumer(MemoryProducerLink, _Handler(), clock_ns=lambda: RECEIVED_NS)
    expiry = {"event_type": "pattern_expired", "data": {"symbol": "AAPL", "pattern": "Bull_Flag"}}

    consumer.handle_message("tickstock.events.backtesting.progress", b"not json")
    consumer.handle_message("tickstock.health.status", b"{}")
    consumer.handle_message(PATTERNS.encode(), json.dumps(expiry).encode())  # neither accepted nor rejected
    consumer.handle_message(PATTERNS, json.dumps({"event_type": "pattern_detected", "data": {}}).encode())

    values = _values(consumer.metric_samples())
    rejected = {labels[0][1] for (name, labels) in values if name == "tickstock_patterns_rejected"}
    assert (values[("tickstock_patterns_received", ())], values[("tickstock_patterns_accepted", ())]) == (
        2,
        0,
    )
    assert values[("tickstock_producer_messages_ignored", ())] == 1
    assert len(rejected) == 1
    assert rejected <= REJECT_REASONS | CONSUMER_REASONS
