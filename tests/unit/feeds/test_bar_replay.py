"""The bars feed over the in-memory history: batches per event time, paging, pacing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import pytest
from factories import NS_PER_S, ns_at
from replay_time import WALL_NS, FakeTime

from tickstock_server.adapters.memory.bars import MemoryMinuteBarHistory
from tickstock_server.domain.bar import Bar
from tickstock_server.domain.tick import Tick
from tickstock_server.feeds.bar_replay import BarReplayTickSource

T0 = ns_at("2025-01-06T15:00:00")  # 10:00 ET
MINUTE_NS = 60 * NS_PER_S


def _bar(symbol: str, minute: int, price: float) -> Bar:
    return Bar(symbol=symbol, start_ns=T0 + minute * MINUTE_NS, open=price, high=price + 1, low=price - 1,
               close=price + 0.5, volume=40, ticks=0)  # fmt: skip


BARS = [_bar("MSFT", 0, 400.0), _bar("AAPL", 0, 200.0), _bar("AAPL", 1, 201.0), _bar("NVDA", 1, 100.0),
        _bar("MSFT", 2, 401.0), _bar("AAPL", 9, 202.0), _bar("AAPL", 60, 250.0)]  # fmt: skip


def _symbols(chosen: Sequence[str] | None) -> Callable[[], Awaitable[Sequence[str] | None]]:
    async def symbols() -> Sequence[str] | None:
        return chosen

    return symbols


async def _batches(source: BarReplayTickSource) -> list[list[Tick]]:
    return [batch async for batch in source.ticks()]


def _source(
    window_minutes: int, symbols: Sequence[str] | None = None, **kwargs: object
) -> BarReplayTickSource:
    return BarReplayTickSource(
        MemoryMinuteBarHistory(BARS), symbols=_symbols(symbols), start_ns=T0, end_ns=T0 + 60 * MINUTE_NS,
        window_minutes=window_minutes, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_batches_hold_one_event_time_each_in_symbol_order() -> None:
    batches = await _batches(_source(window_minutes=100))

    assert [(b[0].ts_ns - T0) // NS_PER_S for b in batches] == [
        0, 15, 30, 45, 60, 75, 90, 105, 120, 135, 150, 165, 540, 555, 570, 585,
    ]  # fmt: skip  # the bar at minute 60 is outside the range
    assert all(len({tick.ts_ns for tick in batch}) == 1 for batch in batches)
    assert [tick.symbol for tick in batches[0]] == ["AAPL", "MSFT"]
    assert [tick.price for tick in batches[1]] == [199.0, 399.0]  # the lows: both bars close up


@pytest.mark.parametrize("window_minutes", [1, 2, 7, 9])
async def test_small_windows_give_the_same_batches(window_minutes: int) -> None:
    assert await _batches(_source(window_minutes=window_minutes)) == await _batches(
        _source(window_minutes=100)
    )


async def test_symbols_limit_the_replay() -> None:
    batches = await _batches(_source(window_minutes=2, symbols=["NVDA", "MSFT"]))

    assert {tick.symbol for batch in batches for tick in batch} == {"MSFT", "NVDA"}
    assert sum(len(batch) for batch in batches) == 4 * 3


async def test_paced_replay_sleeps_event_time_over_speed_and_stamps_release_time() -> None:
    time = FakeTime()
    source = _source(window_minutes=100, speed=60.0, sleep=time.sleep, monotonic_ns=time.monotonic_ns,
                     clock_ns=time.wall_ns)  # fmt: skip

    batches = await _batches(source)

    # 15 s of event time between batches at 60x is 0.25 s; minute 2 -> minute 9 is 6 min 15 s: 6.25 s.
    assert time.sleeps_s[:3] == [0.0, 0.25, 0.25]
    assert time.sleeps_s[12] == pytest.approx(6.25)
    assert batches[1][0].received_ns == WALL_NS + 5 * NS_PER_S + NS_PER_S // 4


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="speed"):
        _source(window_minutes=1, speed=0.0)
    with pytest.raises(ValueError, match="window_minutes"):
        _source(window_minutes=0)
