"""Patterns into the event log: once per pattern id, at the wall clock, to the hub and the event stream."""

from __future__ import annotations

import json

import redis.asyncio as aioredis
from factories import NS_PER_S, PATTERN_NOW_NS, make_pattern

from tickstock.v1 import events_pb2
from tickstock_server.adapters.memory.events import MemoryEventHistory
from tickstock_server.api.mappers.events import encode_event
from tickstock_server.app.pattern_events import PatternEventLog, ingest_pattern_consumer
from tickstock_server.config import PatternSettings, Settings
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import DeliveryOptions, SlowConsumerPolicy, SubscriptionHub
from tickstock_server.domain.events import EventType
from tickstock_server.domain.market_calendar import MarketCalendar
from tickstock_server.domain.shards import Shard, shard_of
from tickstock_server.producer.channels import ProducerChannels

CHANNELS = ProducerChannels()
WEEKDAYS = MarketCalendar.every_weekday()


def _events(
    log: EventLog, history: MemoryEventHistory, *, hub: SubscriptionHub | None = None, remember: int = 100
) -> PatternEventLog:
    return PatternEventLog(
        log,
        hub=hub,
        persist=history.add,
        calendar=WEEKDAYS,
        remember=remember,
        clock_ns=lambda: PATTERN_NOW_NS,
    )


async def _stored(history: MemoryEventHistory) -> list[events_pb2.Event]:
    return [events_pb2.Event.FromString(e.encoded) for e in await history.read(0, 1_000, 1_000)]


async def test_each_pattern_is_sequenced_once_at_the_wall_clock_and_reaches_hub_and_stream() -> None:
    log, history = EventLog(encode_event, capacity=100, last_seq=41), MemoryEventHistory()
    hub = SubscriptionHub(max_streams_per_user=1, queue_capacity=10)
    options = DeliveryOptions(
        max_batch_size=10, max_batch_latency_s=0.0, heartbeat_interval_s=1.0,
        slow_consumer_policy=SlowConsumerPolicy.DISCONNECT,
    )  # fmt: skip
    subscriber = hub.subscribe("u", EventFilter(event_types=frozenset({EventType.PATTERN})), options)
    events = _events(log, history, hub=hub)

    events.append(make_pattern("a"))
    events.append(make_pattern("a", confidence=0.9))  # the producer's update of pattern "a"
    events.append(make_pattern("b", symbol="MSFT"))

    stored = await _stored(history)
    assert [(e.seq, e.event_id, e.type) for e in stored] == [
        (42, "a", events_pb2.EVENT_TYPE_PATTERN),
        (43, "b", events_pb2.EVENT_TYPE_PATTERN),
    ]
    assert {e.ingest_time.ToNanoseconds() for e in stored} == {PATTERN_NOW_NS}
    assert stored[0].pattern.confidence == 0.8
    assert [entry.seq for entry in await subscriber.receive()] == [42, 43]  # type: ignore[union-attr]
    assert log.last_seq == 43


async def test_an_ingest_shard_logs_only_its_own_symbols_patterns() -> None:
    log, history = EventLog(encode_event, capacity=100), MemoryEventHistory()
    shard = Shard(shard_of("AAPL", 2), 2)
    events = PatternEventLog(
        log, hub=None, persist=history.add, calendar=WEEKDAYS, remember=100, owns=shard.owns,
        clock_ns=lambda: PATTERN_NOW_NS,
    )  # fmt: skip

    events.append(make_pattern("a", symbol="AAPL"))
    events.append(make_pattern("m", symbol="MSFT"))  # the other shard's symbol

    assert shard_of("MSFT", 2) != shard.index
    assert [e.event_id for e in await _stored(history)] == ["a"]


async def test_an_id_forgotten_beyond_the_remembered_ones_is_a_new_event() -> None:
    log, history = EventLog(encode_event, capacity=100), MemoryEventHistory()
    events = _events(log, history, remember=2)

    for pattern_id in ("a", "b", "c", "a", "c"):
        events.append(make_pattern(pattern_id))

    assert [e.event_id for e in await _stored(history)] == ["a", "b", "c", "a"]


def _message(channel: str, data: dict[str, object]) -> tuple[str, bytes]:
    return channel, json.dumps(data).encode()


async def test_the_ingest_consumer_logs_patterns_with_capped_expiry_and_ignores_backtest_reports() -> None:
    log, history = EventLog(encode_event, capacity=100), MemoryEventHistory()
    settings = Settings(patterns=PatternSettings(cache_ttl_s=60))
    consumer = ingest_pattern_consumer(
        settings, aioredis.Redis(), _events(log, history), clock_ns=lambda: PATTERN_NOW_NS
    )
    detected_s = PATTERN_NOW_NS // NS_PER_S
    pattern = {"symbol": "AAPL", "pattern": "Bull_Flag", "confidence": 0.75, "timestamp": detected_s,
               "expires_at": detected_s + 7_200, "price_change": -0.4}  # fmt: skip
    progress = {"job_id": "backtest_1767700000_1a2b3c4d", "progress": 0.5}

    consumer.handle_message(*_message(CHANNELS.patterns, {"event_type": "pattern_detected", "data": pattern}))
    consumer.handle_message(*_message(CHANNELS.backtest_progress, progress))

    [event] = await _stored(history)
    assert (event.symbol, event.pattern.pattern_type, event.direction) == (
        "AAPL",
        "Bull_Flag",
        events_pb2.DIRECTION_DOWN,
    )
    assert event.pattern.expire_time.ToNanoseconds() == PATTERN_NOW_NS + 60 * NS_PER_S
    assert (consumer.processed_total, consumer.invalid_total) == (2, 0)
