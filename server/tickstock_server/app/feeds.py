"""The tick source the settings select, and whether its history starts over on every start."""

from __future__ import annotations

import random
import time

from tickstock_server.config import FeedSettings
from tickstock_server.domain.market_calendar import MarketCalendar
from tickstock_server.feeds.replay import ReplayTickSource
from tickstock_server.feeds.synthetic import SyntheticTickSource
from tickstock_server.ports.feeds import TickSource


def restarts_history(feed: FeedSettings) -> bool:
    """True when the feed's events start over on every start: a replay file, the synthetic session clock.

    Their log begins a new epoch at each start (resuming clients get EPOCH_CHANGED rather than the
    same events again under new seqs); a live feed, or synthetic ticks on the wall clock, continue it.
    """
    return feed.kind == "replay" or (feed.kind == "synthetic" and feed.session_clock)


def create_tick_source(feed: FeedSettings, calendar: MarketCalendar) -> TickSource:
    """The tick source `feed.kind` selects (settings validation guarantees its required fields).

    The synthetic market follows `calendar`: its session clock starts at the latest trading day's open.
    """
    if feed.kind == "massive":
        # Imported only when used: the massive client is a heavy import the other feeds do not need.
        from tickstock_server.feeds.massive import MassiveTickSource

        massive = feed.massive
        assert massive.api_key is not None
        subscriptions = tuple(
            channel.strip() for channel in massive.subscriptions.split(",") if channel.strip()
        )
        return MassiveTickSource(
            massive.api_key.get_secret_value(),
            host=massive.host,
            secure=massive.secure,
            subscriptions=subscriptions,
            record_path=massive.record_path,
            jitter_rng=random.Random(),
        )
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
