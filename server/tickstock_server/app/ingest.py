"""The ingest side: the feed, detection, bar aggregation and the bar writer, and the event stream's writer.

It runs alone in the ingest process (`role = ingest`), or next to the gateway side in the all-in-one
server (`role = all`), where the pipeline also publishes to the in-process hub. Patterns join its log
through `pattern_events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence

import asyncpg
import redis.asyncio as aioredis

from tickstock_server.api.mappers.events import encode_event
from tickstock_server.app.feeds import create_tick_source, replays_history, restarts_history
from tickstock_server.app.lifecycle import feeding, running
from tickstock_server.app.pattern_events import PatternEventLog
from tickstock_server.app.shard_feed import ShardTicks
from tickstock_server.bus.event_stream import EventStoreConfig, RedisEventStore
from tickstock_server.bus.shard_store import ShardEventStore
from tickstock_server.config import Settings
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import SubscriptionHub
from tickstock_server.detection.bars import BarAggregator
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.bar import Bar
from tickstock_server.domain.market_calendar import MarketCalendar
from tickstock_server.domain.snapshot import SymbolSnapshot
from tickstock_server.pipeline import DetectionLatency, FeedMetrics, FeedStatus, run_pipeline
from tickstock_server.ports.bars import BarSink
from tickstock_server.ports.events import LogPoint, SnapshotView
from tickstock_server.ports.feeds import TickSource
from tickstock_server.storage.bar_writer import PgBarWriter
from tickstock_server.storage.log_marks import PgLogMarks
from tickstock_server.support.metric_samples import Instrumented


class IngestSide:
    """Builds the ingest components; `open` continues the event log, `running` runs them."""

    def __init__(
        self, settings: Settings, pool: asyncpg.Pool, redis_client: aioredis.Redis, calendar: MarketCalendar
    ) -> None:
        self._settings = settings
        self._calendar = calendar
        self.aggregator = BarAggregator()
        self.engine = DetectionEngine(bars=self.aggregator, calendar=calendar)
        # A live feed's ticks continue across a restart, so the minute in progress keeps its stored part.
        self.writer = PgBarWriter(pool, continues_stored_minutes=not restarts_history(settings.feed))
        self.feed_status = FeedStatus()
        self.detection_latency = DetectionLatency()
        self.source: TickSource = create_tick_source(settings.feed, calendar, pool, settings.shard)
        # The bars feed replays ohlcv_1min itself: writing its minutes back would only rewrite them.
        self.bar_store: BarSink = _NotStoredAgain() if settings.feed.kind == "bars" else self.writer
        delivery = settings.delivery
        config = EventStoreConfig(
            key_prefix=delivery.stream_key_prefix,
            max_entries=delivery.stream_max_entries,
            max_age_s=delivery.stream_max_age_s,
        )
        self.event_store: RedisEventStore | ShardEventStore
        if settings.shard.count > 1:
            self.event_store = ShardEventStore(
                redis_client,
                config,
                settings.shard,
                replays_history=replays_history(settings.feed),
                marks=PgLogMarks(pool),
            )
            self.source = ShardTicks(self.source, settings.shard, self.event_store)
        else:
            self.event_store = RedisEventStore(redis_client, config, marks=PgLogMarks(pool))
        self.log: EventLog

    async def open(self) -> EventLog:
        """Continue the event log where the stream left it (or start a new epoch); return it.

        A shard's log numbers its entries from 1 at each start (the store gives them the log's seqs).
        """
        capacity = self._settings.delivery.log_capacity
        if isinstance(self.event_store, ShardEventStore):
            epoch = await self.event_store.open()
            self.log = EventLog(encode_event, capacity=capacity, epoch=epoch)
            return self.log
        position = await self.event_store.open(new_epoch=restarts_history(self._settings.feed))
        self.log = EventLog(encode_event, capacity=capacity, epoch=position.epoch, last_seq=position.last_seq)
        return self.log

    def pattern_events(self, hub: SubscriptionHub | None) -> PatternEventLog:
        """What appends patterns to this side's log (after `open`), published to `hub` and persisted."""
        store = self.event_store
        return PatternEventLog(
            self.log,
            hub=hub,
            persist=store.add_live if isinstance(store, ShardEventStore) else store.add,
            owns=self._settings.shard.owns,
            calendar=self._calendar,
            remember=self._settings.patterns.max_cached,
        )

    def unstored_bars(self, symbol: str) -> list[Bar]:
        """The symbol's bars not stored yet: the writer's buffer, then the aggregator's open minute.

        Each as it will read once written (a minute in progress at a restart includes its stored part).
        """
        bars = [bar for bar in self.writer.pending_bars() if bar.symbol == symbol]
        open_bar = self.aggregator.open_bar(symbol)
        return self.writer.as_stored(bars if open_bar is None else [*bars, open_bar])

    async def take_snapshot(self, symbols: list[str] | None) -> tuple[LogPoint, list[SymbolSnapshot]]:
        """The detectors' state and the log position it reflects, taken in one step.

        A shard's own seqs are not the log's: it waits for a moment when all its entries are written,
        and takes the state in the same step as the log's seq of its last one.
        """
        if isinstance(self.event_store, ShardEventStore):
            point = await self.event_store.quiescent_point()
        else:
            point = LogPoint(self.log.epoch, self.log.last_seq)
        return point, self.engine.snapshot(symbols)

    def feed_pulse(self) -> tuple[int, int]:
        """When ticks last arrived (wall clock) and the newest tick's event time, UTC epoch ns."""
        return self.feed_status.last_arrival_ns, self.engine.last_tick_ns

    def instruments(self) -> list[Instrumented]:
        """The ingest components that report metrics."""
        return [
            self.engine,
            FeedMetrics(self.feed_status, self.source),
            self.detection_latency,
            self.log,
            self.event_store,
            self.writer,
        ]

    @contextlib.asynccontextmanager
    async def running(
        self, tasks: asyncio.TaskGroup, *, hub: SubscriptionHub | None, bars: BarSink | None = None
    ) -> AsyncIterator[None]:
        """Run the event stream's writer, the bar writer and the feed pipeline (in that order).

        Args:
            tasks: Where the background work runs.
            hub: The in-process hub to publish to (the all-in-one server); None in the ingest process.
            bars: Where completed bars go; the bar writer when None.
        """
        store, writer, log = self.event_store, self.writer, self.log
        bar_store = self.bar_store
        async with contextlib.AsyncExitStack() as stack:
            # Every event reached the stream when it stops: a restart continues this epoch with no gap.
            await stack.enter_async_context(
                running(tasks, "event-store", store.run(), stopping=lambda: _close(store, log))
            )
            await stack.enter_async_context(running(tasks, "bar-writer", writer.run(), stopping=writer.close))
            pipeline = run_pipeline(
                self.source,
                self.engine,
                log,
                hub,
                self.feed_status,
                bars=bar_store if bars is None else bars,
                persist=store.add,
                latency=self.detection_latency,
            )
            await stack.enter_async_context(
                feeding(tasks, pipeline, final_bars=lambda: bar_store.put(self.engine.flush_bars()))
            )
            yield


def _close(store: RedisEventStore | ShardEventStore, log: EventLog) -> None:
    if isinstance(store, ShardEventStore):
        store.close()
    else:
        store.close(log.last_seq)


class _NotStoredAgain:
    """The bar sink of the bars feed: its minutes come from storage, so they are not written again."""

    async def put(self, bars: Sequence[Bar]) -> None:
        """Drop `bars` (they are the stored bars being replayed)."""


class EngineSnapshots:
    """`SnapshotSource` over the detectors of this process: the view is the log's end when taken."""

    def __init__(self, engine: DetectionEngine) -> None:
        self._engine = engine

    async def snapshot(self, symbols: Iterable[str] | None = None) -> SnapshotView:
        """The detectors' state of `symbols` (all when None), taken without yielding."""
        return SnapshotView(self._engine.snapshot(symbols), None)


def local_pending_bars(ingest: IngestSide) -> Callable[[str], Awaitable[list[Bar]]]:
    """`PgBarReader`'s source of unstored bars when the ingest runs in this process."""

    async def pending(symbol: str) -> list[Bar]:
        return ingest.unstored_bars(symbol)

    return pending


def wall_clock_or(tick_ns: Callable[[], int]) -> Callable[[], int]:
    """The market clock: the newest tick's event time, or the wall clock before the first tick."""
    return lambda: tick_ns() or time.time_ns()
