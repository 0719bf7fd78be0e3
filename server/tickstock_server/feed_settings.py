"""The feed's settings (a section of `config.Settings`): which feed, and each kind's options."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

_SECTION = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class MassiveFeedSettings(BaseModel):
    """The Massive (formerly Polygon.io) stocks WebSocket feed."""

    model_config = _SECTION

    api_key: SecretStr | None = None
    """Massive API key; required when feed.kind is "massive". Never logged."""
    host: str = "socket.massive.com"
    """WebSocket host[:port]: "socket.massive.com" real time, "delayed.massive.com" 15-minute delayed."""
    secure: bool = True
    """Connect with TLS (wss://); false only for a local test server."""
    subscriptions: str = "A.*"
    """Comma-separated channels: "A.*" is every stock's per-second aggregate; T.<sym>, Q.<sym>, AM.<sym>
    also work."""
    record_path: Path | None = None
    """Append every raw frame to this JSON-lines file, replayable with feed.kind "replay"."""


class ReplayFeedSettings(BaseModel):
    """Replay of a recorded Massive session."""

    model_config = _SECTION

    path: Path | None = None
    """JSON-lines file of raw Massive frames (as feed.massive.record_path writes); required for "replay"."""
    speed: float | None = Field(default=None, gt=0, le=10_000)
    """Event-time speed-up (1 = as recorded, 10 = ten times faster); unset replays as fast as possible."""


class BarsFeedSettings(BaseModel):
    """Replay of stored one-minute bars (``ohlcv_1min``, e.g. loaded by tickstock-load) as ticks."""

    model_config = _SECTION

    symbols: str | None = Field(default=None, max_length=100_000)
    """Comma-separated tickers to replay, e.g. "AAPL,MSFT"; give this or universe (neither: every symbol)."""
    universe: str | None = Field(default=None, max_length=200)
    """Universe key whose members are replayed, e.g. "dow30" or "sp500:dow30"."""
    first_day: dt.date | None = None
    """First US/Eastern trading day replayed, YYYY-MM-DD; required when feed.kind is "bars"."""
    last_day: dt.date | None = None
    """Last US/Eastern trading day replayed (inclusive), YYYY-MM-DD; default first_day."""
    speed: float | None = Field(default=None, gt=0, le=10_000)
    """Event-time speed-up (1 = real time, 60 = a minute per second); unset replays as fast as possible."""

    @model_validator(mode="after")
    def _consistent(self) -> BarsFeedSettings:
        if self.symbols is not None and self.universe is not None:
            raise ValueError("give feed.bars.symbols or feed.bars.universe, not both")
        if self.first_day is not None and self.last_day is not None and self.last_day < self.first_day:
            raise ValueError("feed.bars.last_day is before feed.bars.first_day")
        return self


class FeedSettings(BaseModel):
    """Where ticks come from."""

    model_config = _SECTION

    kind: Literal["synthetic", "massive", "replay", "bars"] = "synthetic"
    """Tick source: "synthetic" (seeded random-walk market), "massive" (live WebSocket), "replay" (a file),
    "bars" (stored one-minute bars replayed as ticks; see docs/replay.md)."""
    seed: int = 42
    """Seed of the synthetic market; the same seed gives the same prices."""
    symbols: int = Field(default=4000, ge=1, le=20000)
    """Number of symbols in the synthetic market."""
    rate_per_s: float = Field(default=2000.0, gt=0, le=1_000_000)
    """Synthetic ticks per second, over all symbols."""
    session_clock: bool = True
    """Synthetic event time runs a trading day from 09:30 ET of the latest weekday at real-time pace, so a
    demo at any hour shows the open and the regular session; false stamps ticks with the wall clock."""
    massive: MassiveFeedSettings = MassiveFeedSettings()
    replay: ReplayFeedSettings = ReplayFeedSettings()
    bars: BarsFeedSettings = BarsFeedSettings()

    @model_validator(mode="after")
    def _source_configured(self) -> FeedSettings:
        if self.kind == "massive" and self.massive.api_key is None:
            raise ValueError('feed.massive.api_key is required when feed.kind is "massive"')
        if self.kind == "replay" and self.replay.path is None:
            raise ValueError('feed.replay.path is required when feed.kind is "replay"')
        if self.kind == "bars" and self.bars.first_day is None:
            raise ValueError('feed.bars.first_day is required when feed.kind is "bars"')
        return self
