"""The tick source the settings select, and whether its history starts over on every start."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Sequence

import asyncpg

from tickstock_server.domain.market_calendar import MarketCalendar
from tickstock_server.domain.market_session import EASTERN
from tickstock_server.domain.shards import Shard
from tickstock_server.feed_settings import BarsFeedSettings, FeedSettings
from tickstock_server.feeds.bar_replay import BarReplayTickSource
from tickstock_server.feeds.replay import ReplayTickSource
from tickstock_server.feeds.synthetic import SyntheticTickSource
from tickstock_server.ports.feeds import TickSource
from tickstock_server.storage.minute_history import PgMinuteBarHistory
from tickstock_server.storage.universes import PgUniverseStore
from tickstock_server.support.time_units import NS_PER_S
from tickstock_server.universes.service import UniverseCatalog


def restarts_history(feed: FeedSettings) -> bool:
    """True when the feed's events start over on every start: a replay (file or bars), the session clock.

    Their log begins a new epoch at each start (resuming clients get EPOCH_CHANGED rather than the
    same events again under new seqs); a live feed, or synthetic ticks on the wall clock, continue it.
    """
    return feed.kind in ("replay", "bars") or (feed.kind == "synthetic" and feed.session_clock)


def replays_history(feed: FeedSettings) -> bool:
    """True when the feed gives the same ticks on every start: a replay of a file or of stored bars.

    A restarted ingest shard regenerates their events, and leaves out the ones the log already has. (The
    synthetic session clock starts its day again too, but at the wall clock's pace, so its ticks differ.)
    """
    return feed.kind in ("replay", "bars")


def create_tick_source(
    feed: FeedSettings, calendar: MarketCalendar, pool: asyncpg.Pool, shard: Shard | None = None
) -> TickSource:
    """The tick source `feed.kind` selects (settings validation guarantees its required fields).

    The synthetic market follows `calendar`: its session clock starts at the latest trading day's open.
    The bars feed reads the stored bars (and resolves its universe) through `pool`. An ingest `shard`
    subscribes to Massive's channels of single symbols only for its own symbols (a wildcard channel such
    as "A.*" stays: the shard keeps its symbols' ticks, `app/shard_feed.py`).
    """
    if feed.kind == "massive":
        # Imported only when used: the massive client is a heavy import the other feeds do not need.
        from tickstock_server.feeds.massive import MassiveTickSource

        massive = feed.massive
        assert massive.api_key is not None
        subscriptions = shard_channels(
            [channel.strip() for channel in massive.subscriptions.split(",") if channel.strip()],
            shard or Shard(),
        )
        return MassiveTickSource(
            massive.api_key.get_secret_value(),
            host=massive.host,
            secure=massive.secure,
            subscriptions=subscriptions,
            record_path=massive.record_path,
            jitter_rng=random.Random(),
        )
    if feed.kind == "bars":
        return _bar_replay(feed.bars, pool)
    if feed.kind == "replay":
        assert feed.replay.path is not None
        return ReplayTickSource(feed.replay.path, speed=feed.replay.speed)
    return SyntheticTickSource(
        seed=feed.seed,
        symbols=feed.symbols,
        rate=feed.rate_per_s,
        realtime=True,
        session_start_ns=calendar.latest_open_ns(time.time_ns()) if feed.session_clock else None,
        calendar=calendar,
    )


def shard_channels(channels: list[str], shard: Shard) -> tuple[str, ...]:
    """The Massive channels ("T.AAPL", "A.*") a shard subscribes to: wildcards, and its own symbols'."""
    return tuple(
        channel
        for channel in channels
        if channel.partition(".")[2] in ("", "*") or shard.owns(channel.partition(".")[2])
    )


def _bar_replay(bars: BarsFeedSettings, pool: asyncpg.Pool) -> BarReplayTickSource:
    assert bars.first_day is not None
    last_day = bars.last_day if bars.last_day is not None else bars.first_day

    async def symbols() -> Sequence[str] | None:
        if bars.universe is not None:
            return sorted(await UniverseCatalog(PgUniverseStore(pool)).resolve([bars.universe]))
        if bars.symbols is not None:
            return sorted({s.strip().upper() for s in bars.symbols.split(",") if s.strip()})
        return None

    return BarReplayTickSource(
        PgMinuteBarHistory(pool),
        symbols=symbols,
        start_ns=_eastern_midnight_ns(bars.first_day),
        end_ns=_eastern_midnight_ns(last_day + dt.timedelta(days=1)),
        speed=bars.speed,
    )


def _eastern_midnight_ns(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=EASTERN).timestamp()) * NS_PER_S
