import re
from collections import defaultdict
from itertools import accumulate, pairwise
from typing import Any

import pytest
from factories import NS_PER_S, ns_at

from tickstock_server.domain.tick import Tick
from tickstock_server.feeds.synthetic import SyntheticTickSource
from tickstock_server.simulation.market import (
    DEFAULT_START_NS,
    REAL_TICKERS,
    SyntheticMarket,
    SyntheticMarketConfig,
    synthetic_symbols,
)

OPEN_NS = ns_at("2026-01-05T14:30:00")  # Monday 09:30 ET


def generate(seed: int, *, batches: int = 50, per_batch: int = 200, **config: float) -> list[Tick]:
    """Ticks of 50 symbols in batches 10 ms apart, from 09:25 ET."""
    market = SyntheticMarket(seed, SyntheticMarketConfig(symbols=50, **config))
    ticks: list[Tick] = []
    for index in range(batches):
        ticks += market.next_ticks(per_batch, DEFAULT_START_NS + index * 10_000_000)
    return ticks


def by_symbol(ticks: list[Tick]) -> dict[str, list[Tick]]:
    grouped: dict[str, list[Tick]] = defaultdict(list)
    for tick in ticks:
        grouped[tick.symbol].append(tick)
    return grouped


def moves(ticks: list[Tick]) -> list[float]:
    """Relative price change between consecutive ticks of each symbol at different event times."""
    return [
        b.price / a.price - 1
        for series in by_symbol(ticks).values()
        for a, b in pairwise(series)
        if b.ts_ns > a.ts_ns
    ]


def test_same_seed_gives_identical_ticks() -> None:
    assert generate(7) == generate(7)


def test_different_seeds_give_different_ticks() -> None:
    assert generate(7) != generate(8)


def test_universe_starts_with_real_tickers_then_distinct_pseudo_tickers() -> None:
    symbols = synthetic_symbols(4000)

    pseudo = symbols[len(REAL_TICKERS) :]
    assert len(symbols) == len(set(symbols)) == 4000
    assert symbols[: len(REAL_TICKERS)] == REAL_TICKERS
    assert {"AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOGL", "META", "AMD", "SPY", "QQQ"} <= set(symbols)
    assert all(re.fullmatch(r"[A-Z]{4,5}", name) for name in pseudo)
    assert not set(pseudo) & set(REAL_TICKERS)


def test_small_universe_is_a_prefix_of_real_tickers() -> None:
    assert synthetic_symbols(3) == ("AAPL", "MSFT", "NVDA")


def test_real_tickers_start_near_their_real_price_levels() -> None:
    first = {}
    for tick in generate(3):
        first.setdefault(tick.symbol, tick.price)

    # Late-2025 levels: AAPL about $270, KO about $70, LLY about $1,050; one minute moves them < 1 %.
    assert first["AAPL"] == pytest.approx(270.0, rel=0.01)
    assert first["KO"] == pytest.approx(70.0, rel=0.01)
    assert first["LLY"] == pytest.approx(1050.0, rel=0.01)


def test_market_uses_configured_symbol_count() -> None:
    market = SyntheticMarket(1, SyntheticMarketConfig(symbols=120))

    ticks = market.next_ticks(5000, OPEN_NS)

    assert len(market.symbols) == 120
    assert {tick.symbol for tick in ticks} <= set(market.symbols)
    assert len(ticks) == 5000


def test_prices_stay_positive_and_ordinary_moves_stay_small() -> None:
    ticks = generate(3, jumps_per_hour=0.0)

    assert all(tick.price > 0 for tick in ticks)
    assert max(abs(move) for move in moves(ticks)) < 0.02


def test_jumps_move_prices_a_few_percent() -> None:
    ticks = generate(3, batches=10, jumps_per_hour=1e12, min_annual_volatility=0.0, max_annual_volatility=0.0)

    assert all(0.015 <= abs(move) <= 0.065 for move in moves(ticks))


def test_accumulated_volume_grows_with_each_tick_of_a_symbol() -> None:
    series = by_symbol(generate(5)).values()

    assert all(
        [t.accumulated_volume for t in ticks] == list(accumulate(t.volume for t in ticks)) for ticks in series
    )


def test_vwap_stays_within_the_day_price_range() -> None:
    series = by_symbol(generate(5)).values()

    assert all(
        tick.vwap is not None and min(seen) - 1e-4 <= tick.vwap <= max(seen) + 1e-4
        for ticks in series
        for i, tick in enumerate(ticks)
        for seen in [[t.price for t in ticks[: i + 1]]]
    )


def test_open_price_is_first_regular_session_price() -> None:
    market = SyntheticMarket(9, SyntheticMarketConfig(symbols=5))
    pre = market.next_ticks(50, OPEN_NS - 60 * NS_PER_S)

    regular = market.next_ticks(50, OPEN_NS) + market.next_ticks(50, OPEN_NS + NS_PER_S)

    assert all(tick.open_price is None for tick in pre)
    first_regular = {symbol: series[0].price for symbol, series in by_symbol(regular).items()}
    assert all(tick.open_price == first_regular[tick.symbol] for tick in regular)


def test_new_trading_day_restarts_day_statistics() -> None:
    market = SyntheticMarket(9, SyntheticMarketConfig(symbols=1))
    market.next_ticks(10, OPEN_NS)

    (next_day,) = market.next_ticks(1, OPEN_NS + 24 * 3600 * NS_PER_S)

    assert next_day.accumulated_volume == next_day.volume
    assert next_day.open_price == next_day.price


def test_opening_minutes_trade_more_volume_than_midday() -> None:
    market = SyntheticMarket(11, SyntheticMarketConfig(symbols=100))
    opening = market.next_ticks(5000, OPEN_NS)
    midday = market.next_ticks(5000, OPEN_NS + 3 * 3600 * NS_PER_S)

    assert sum(t.volume for t in opening) > 2 * sum(t.volume for t in midday)


async def test_simulated_source_yields_fixed_batches_on_simulated_clock() -> None:
    source = SyntheticTickSource(
        seed=1, symbols=100, rate=1000.0, realtime=False, interval_s=0.01, max_ticks=50
    )

    batches = [batch async for batch in source.ticks()]

    assert [len(batch) for batch in batches] == [10] * 5
    assert [batch[0].ts_ns for batch in batches] == [DEFAULT_START_NS + i * 10_000_000 for i in range(5)]


async def test_simulated_sources_with_same_seed_yield_identical_ticks() -> None:
    def source() -> SyntheticTickSource:
        return SyntheticTickSource(seed=4, symbols=200, rate=5000.0, realtime=False, max_ticks=1000)

    first = [batch async for batch in source().ticks()]
    second = [batch async for batch in source().ticks()]

    assert first == second


async def test_realtime_source_yields_batches_stamped_by_wall_clock() -> None:
    fixed_ns = ns_at("2026-01-06T15:00:00")
    source = SyntheticTickSource(
        seed=2, symbols=100, rate=200_000.0, interval_s=0.005, max_ticks=3000, wall_clock_ns=lambda: fixed_ns
    )

    batches = [batch async for batch in source.ticks()]

    assert sum(len(batch) for batch in batches) == 3000
    assert all(batch for batch in batches)
    assert {tick.ts_ns for batch in batches for tick in batch} == {fixed_ns}


async def test_realtime_session_clock_starts_at_session_start_and_is_received_at_wall_clock() -> None:
    wall_ns = ns_at("2026-01-07T03:00:00")  # 22:00 ET: the market is closed
    session_start_ns = ns_at("2026-01-06T14:30:00")  # 09:30 ET
    source = SyntheticTickSource(
        seed=2,
        symbols=100,
        rate=200_000.0,
        interval_s=0.005,
        max_ticks=3000,
        session_start_ns=session_start_ns,
        wall_clock_ns=lambda: wall_ns,
    )

    ticks = [tick async for batch in source.ticks() for tick in batch]

    assert {tick.received_ns for tick in ticks} == {wall_ns}
    # Event time advances with the (monotonic) wall clock from the session start: well under a minute here.
    assert all(session_start_ns < tick.ts_ns < session_start_ns + 60 * NS_PER_S for tick in ticks)


@pytest.mark.parametrize("kwargs", [{"rate": 0.0}, {"interval_s": -1.0}, {"symbols": 0}])
def test_invalid_source_settings_raise_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SyntheticTickSource(**kwargs)
