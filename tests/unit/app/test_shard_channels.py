"""An ingest shard subscribes to Massive's single-symbol channels only for its own symbols."""

from __future__ import annotations

from tickstock_server.app.feeds import replays_history, shard_channels
from tickstock_server.domain.shards import Shard, shard_of
from tickstock_server.feed_settings import FeedSettings


def test_a_shard_keeps_wildcards_and_its_own_symbols_channels() -> None:
    channels = ["A.*", "T.AAPL", "T.MSFT", "Q.NVDA", "AM.SPY"]
    shards = [Shard(index, 2) for index in range(2)]

    kept = [shard_channels(channels, shard) for shard in shards]

    for shard, channels_kept in zip(shards, kept, strict=True):
        assert channels_kept[0] == "A.*"
        assert {c.split(".")[1] for c in channels_kept[1:]} == {
            symbol for symbol in ("AAPL", "MSFT", "NVDA", "SPY") if shard_of(symbol, 2) == shard.index
        }
    assert sorted(kept[0][1:] + kept[1][1:]) == sorted(channels[1:])  # each symbol's channel once


def test_the_only_shard_keeps_every_channel() -> None:
    assert shard_channels(["A.*", "T.AAPL"], Shard()) == ("A.*", "T.AAPL")


def test_only_replays_give_the_same_ticks_on_every_start() -> None:
    assert replays_history(FeedSettings(kind="bars", bars={"first_day": "2026-01-05"}))  # type: ignore[arg-type]
    assert not replays_history(FeedSettings())  # the synthetic session clock follows the wall clock's pace
