"""The fallback detector in the split topology, over a real Redis: the ingest's completed bars become
FALLBACK PATTERN events in the event stream while the producer is silent (and none while it is heard);
a gateway's follower takes them into its pattern cache once each, and a restarted gateway warms with them
from the mirror."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from factories import HOUR_NS, NS_PER_S, PATTERN_NOW_NS, make_pattern
from polling import eventually

from tickstock.v1 import events_pb2
from tickstock_server.api.mappers.events import encode_event
from tickstock_server.app.fallback_patterns import fallback_feed, logged_fallback_patterns
from tickstock_server.app.pattern_events import PatternEventLog
from tickstock_server.bus.event_follower import RedisEventFollower
from tickstock_server.bus.event_stream import EventStoreConfig, RedisEventStore
from tickstock_server.bus.pattern_mirror import RedisPatternMirror
from tickstock_server.config import PatternSettings
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import SubscriptionHub
from tickstock_server.domain.bar import Bar
from tickstock_server.domain.market_calendar import MarketCalendar
from tickstock_server.domain.patterns import Pattern
from tickstock_server.patterns.cache import PatternCache
from tickstock_server.patterns.fallback_feed import FallbackBarSink, FallbackFeed
from tickstock_server.patterns.scan import ScanQuery
from tickstock_server.patterns.service import PatternRules, PatternService

TTL_S = 600.0
SETTINGS = PatternSettings(cache_ttl_s=TTL_S, fallback_activate_after_s=90, fallback_stand_down_after_s=120)
SYMBOLS = [f"S{index:03d}" for index in range(50)]


class _Clock:
    """Starts at the wall clock: the mirror's keys expire in Redis' time."""

    def __init__(self) -> None:
        self.now_ns = time.time_ns()

    def __call__(self) -> int:
        return self.now_ns


def _dojis(minute: int) -> list[Bar]:
    """One completed bar per symbol, each a Doji (body 0.1 within a range of 2), hours before now."""
    start_ns = PATTERN_NOW_NS - 5 * HOUR_NS + minute * 60 * NS_PER_S
    return [
        Bar(symbol=s, start_ns=start_ns, open=100.0, high=101.0, low=99.0, close=100.1, volume=900, ticks=9)
        for s in SYMBOLS
    ]


class _BarWriter:
    def __init__(self) -> None:
        self.bars: list[Bar] = []

    async def put(self, bars: Sequence[Bar]) -> None:
        self.bars += bars


@dataclass
class _Ingest:
    """The ingest's side as `serve` wires it: bars -> fallback -> the event log -> the Redis Stream."""

    prefix: str
    clock: _Clock
    log: EventLog
    store: RedisEventStore
    events: PatternEventLog
    feed: FallbackFeed
    bars: FallbackBarSink

    async def stored(self) -> list[events_pb2.Event]:
        await eventually(lambda: self.store.pending == 0)
        entries = await self.store.read(0, self.log.last_seq, limit=10_000)
        return [events_pb2.Event.FromString(entry.encoded) for entry in entries]


@pytest.fixture
async def ingest(client: aioredis.Redis) -> AsyncIterator[_Ingest]:
    prefix = f"test:fallback:{uuid.uuid4().hex[:8]}:"
    clock = _Clock()
    store = RedisEventStore(client, EventStoreConfig(key_prefix=prefix))
    position = await store.open()
    log = EventLog(encode_event, capacity=1000, epoch=position.epoch)
    events = PatternEventLog(
        log,
        hub=None,
        persist=store.add,
        calendar=MarketCalendar.every_weekday(),
        remember=1000,
        clock_ns=clock,
    )
    feed = fallback_feed(SETTINGS, clock_ns=clock)
    assert feed is not None
    writing = asyncio.create_task(store.run())
    yield _Ingest(
        prefix, clock, log, store, events, feed, FallbackBarSink(_BarWriter(), feed, events.append_all)
    )
    writing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writing


def _producer_silent(ingest: _Ingest) -> None:
    """The producer's last heartbeat is 100 s old: the switch activates (after 90 s)."""
    assert ingest.feed.observe(ingest.clock.now_ns - 100 * NS_PER_S)


def _gateway_patterns(client: aioredis.Redis, ingest: _Ingest) -> PatternService:
    return PatternService(
        cache=PatternCache(max_patterns=1000),
        mirror=RedisPatternMirror(client, key_prefix=ingest.prefix + "patterns:"),
        rules=PatternRules(ttl_s=TTL_S),
        clock_ns=ingest.clock,
    )


async def test_while_the_producer_is_silent_completed_bars_become_fallback_pattern_events(
    ingest: _Ingest,
) -> None:
    _producer_silent(ingest)

    await ingest.bars.put(_dojis(0))

    stored = await ingest.stored()
    assert [(e.symbol, e.type, e.pattern.pattern_type) for e in stored] == [
        (symbol, events_pb2.EVENT_TYPE_PATTERN, "Doji") for symbol in SYMBOLS
    ]
    assert {e.pattern.source for e in stored} == {events_pb2.PATTERN_SOURCE_FALLBACK}
    assert {e.provenance.detector_version for e in stored} == {"pattern_fallback/1"}
    # Current from now (the wall clock) for the cache TTL, though the bars are hours old.
    expiry_ns = ingest.clock.now_ns + round(TTL_S * NS_PER_S)
    assert {e.pattern.expire_time.ToNanoseconds() for e in stored} == {expiry_ns}
    assert ingest.bars.writer.bars == _dojis(0)  # type: ignore[attr-defined]


async def test_while_the_producer_is_heard_completed_bars_log_no_pattern(ingest: _Ingest) -> None:
    assert not ingest.feed.observe(ingest.clock.now_ns - 10 * NS_PER_S)  # a heartbeat 10 s old

    await ingest.bars.put(_dojis(0))

    assert await ingest.stored() == []
    assert ingest.log.last_seq == 0


async def test_a_gateway_caches_the_logged_fallback_patterns_once_and_a_restarted_one_warms_with_them(
    client: aioredis.Redis, ingest: _Ingest
) -> None:
    follower = RedisEventFollower(client, key_prefix=ingest.prefix)
    epoch, last_seq = await follower.open()
    gateway = _gateway_patterns(client, ingest)
    gateway_log = EventLog(encode_event, capacity=1000, epoch=epoch, last_seq=last_seq)
    hub = SubscriptionHub(max_streams_per_user=1, queue_capacity=10)
    following = asyncio.create_task(follower.run(gateway_log, hub, logged_fallback_patterns(gateway)))
    _producer_silent(ingest)

    # The producer's pattern, logged by the ingest's consumer, reaches the gateway through its own one.
    ingest.events.append(make_pattern("from-producer", symbol="AAPL"))
    await ingest.bars.put(_dojis(0))
    await ingest.bars.put(_dojis(0))  # the same minute again: the detector ignores it
    await eventually(lambda: gateway_log.last_seq == 1 + len(SYMBOLS))
    following.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await following

    fallback_ids = {f"fb:{symbol}:Doji:{_dojis(0)[0].start_ns}" for symbol in SYMBOLS}
    assert {p.pattern_id for p in _all_cached(gateway)} == fallback_ids
    assert gateway.unmirrored == len(SYMBOLS)
    await gateway.flush_mirror()
    restarted = _gateway_patterns(client, ingest)
    await restarted.warm()
    assert {p.pattern_id for p in _all_cached(restarted)} == fallback_ids
    assert {p.expires_ns for p in _all_cached(restarted)} == {ingest.clock.now_ns + round(TTL_S * NS_PER_S)}


def _all_cached(patterns: PatternService) -> list[Pattern]:
    return list(patterns.cache.scan(ScanQuery(page_size=100), time.time_ns()).patterns)
