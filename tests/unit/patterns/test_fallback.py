"""FallbackPatternDetector: golden bar sequences per pattern, boundaries, zero guards and bounded memory."""

from __future__ import annotations

import pytest
from factories import NS_PER_S, ns_at

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.patterns import Pattern, PatternIndicators, PatternSource, PatternTimeframe
from tickstock_server.patterns.fallback import FallbackPatternDetector

T0_NS = ns_at("2026-01-06T15:00:00")  # 10:00 ET
MINUTE_NS = 60 * NS_PER_S

Candle = tuple[float, float, float, float]  # open, high, low, close

# Bars that complete no pattern on their own or after one another: a long bullish body with short
# shadows (range 1.2, body 1.0, shadows 0.1), opening within 1 % of the previous close.
PLAIN: Candle = (100.0, 101.1, 99.9, 101.0)


def bar(minute: int, candle: Candle, volume: int = 1000, symbol: str = "AAPL") -> Bar:
    open_, high, low, close = candle
    return Bar(
        symbol=symbol,
        start_ns=T0_NS + minute * MINUTE_NS,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        ticks=10,
    )


def feed(detector: FallbackPatternDetector, bars: list[Bar]) -> list[tuple[Pattern, ...]]:
    return [detector.update(b) for b in bars]


def last_patterns(bars: list[Bar], **kwargs: int) -> tuple[Pattern, ...]:
    """Feed a fresh detector; every bar but the last must yield nothing; return the last bar's patterns."""
    results = feed(FallbackPatternDetector(**kwargs), bars)
    assert results[:-1] == [()] * (len(bars) - 1)
    return results[-1]


def types(patterns: tuple[Pattern, ...]) -> list[str]:
    return [p.pattern_type for p in patterns]


def plain_history(count: int, volume: int = 1000) -> list[Bar]:
    return [bar(minute, PLAIN, volume) for minute in range(count)]


# --- golden table: one bar sequence per pattern --------------------------------------------------------

GOLDEN: list[tuple[str, list[Bar], str, float, float, float | None]] = [
    # (pattern, bars, type, confidence, price_change_pct, relative_volume)
    #
    # Doji: range 101 - 99 = 2, body |100.1 - 100| = 0.1 <= 0.1 x 2. No previous bar: change 0.
    ("doji", [bar(0, (100.0, 101.0, 99.0, 100.1))], "Doji", 0.6, 0.0, None),
    # Hammer: range 100.5 - 98 = 2.5, body 0.4 > 0.25 (real), lower shadow 100 - 98 = 2.0 >= 2 x 0.4,
    # upper shadow 100.5 - 100.4 = 0.1 <= 0.1 x 2.5.
    ("hammer", [bar(0, (100.0, 100.5, 98.0, 100.4))], "Hammer", 0.65, 0.0, None),
    # Shooting star: range 102.5 - 100 = 2.5, body 0.4, upper shadow 102.5 - 100.4 = 2.1 >= 0.8,
    # lower shadow 100 - 100 = 0 <= 0.25.
    ("shooting star", [bar(0, (100.4, 102.5, 100.0, 100.0))], "Shooting_Star", 0.65, 0.0, None),
    # Bullish engulfing: previous falls 101 -> 100 (body 1); this rises 99.9 -> 101.5 (body 1.6 > 1),
    # opening <= 100 and closing >= 101. Change (101.5 - 100) / 100 = +1.5 %.
    (
        "engulfing bull",
        [bar(0, (101.0, 101.2, 99.8, 100.0)), bar(1, (99.9, 101.6, 99.8, 101.5))],
        "Engulfing_Bull",
        0.7,
        1.5,
        None,
    ),
    # Bearish engulfing: previous rises 100 -> 101 (body 1); this falls 101.1 -> 99.4 (body 1.7 > 1),
    # opening >= 101 and closing <= 100. Change (99.4 - 101) / 101 = -1.58416 %.
    (
        "engulfing bear",
        [bar(0, (100.0, 101.2, 99.8, 101.0)), bar(1, (101.1, 101.2, 99.3, 99.4))],
        "Engulfing_Bear",
        0.7,
        -1.6 / 101 * 100,
        None,
    ),
    # Surge: five previous bars of 1,000 shares average 1,000 (> 100); 3,001 > 3 x 1,000.
    # Relative volume 3,001 / 1,000 = 3.001. Change (101 - 101) / 101 = 0.
    ("surge", [*plain_history(5), bar(5, PLAIN, 3001)], "High_Volume_Surge", 0.75, 0.0, 3.001),
    # Gap: previous close 100, open 102.5: |102.5 - 100| / 100 = 2.5 % > 2 %. Change +3.5 %.
    (
        "price gap",
        [bar(0, (99.0, 100.1, 98.9, 100.0)), bar(1, (102.5, 103.6, 102.4, 103.5))],
        "Price_Gap",
        0.8,
        3.5,
        None,
    ),
]


@pytest.mark.parametrize(
    ("bars", "pattern_type", "confidence", "change_pct", "relative_volume"),
    [case[1:] for case in GOLDEN],
    ids=[case[0] for case in GOLDEN],
)
def test_golden_sequence_yields_exactly_its_pattern(
    bars: list[Bar], pattern_type: str, confidence: float, change_pct: float, relative_volume: float | None
) -> None:
    # Act
    (pattern,) = last_patterns(bars)

    # Assert
    last = bars[-1]
    detected_ns = last.start_ns + MINUTE_NS
    assert pattern == Pattern(
        pattern_id=f"fb:AAPL:{pattern_type}:{last.start_ns}",
        symbol="AAPL",
        pattern_type=pattern_type,
        confidence=confidence,
        price=last.close,
        price_change_pct=pytest.approx(change_pct),
        detected_ns=detected_ns,
        expires_ns=detected_ns + 3600 * NS_PER_S,
        timeframe=PatternTimeframe.INTRADAY,
        source=PatternSource.FALLBACK,
        indicators=PatternIndicators(
            relative_volume=None if relative_volume is None else pytest.approx(relative_volume)
        ),
    )


def test_bar_with_several_patterns_yields_each_once_in_order_with_distinct_ids() -> None:
    # Arrange: five bars of 1,000 shares closing at 100, then a doji opening 3 % higher on 5,000 shares.
    history = [bar(m, (99.0, 100.1, 98.9, 100.0)) for m in range(5)]
    doji_gap_surge = bar(5, (103.0, 104.0, 102.0, 103.1), volume=5000)

    # Act
    patterns = last_patterns([*history, doji_gap_surge])

    # Assert
    assert types(patterns) == ["Doji", "High_Volume_Surge", "Price_Gap"]
    assert len({p.pattern_id for p in patterns}) == 3
    assert {p.indicators.relative_volume for p in patterns} == {5.0}
    assert [p.price_change_pct for p in patterns] == pytest.approx([3.1] * 3)


def test_ttl_sets_expiry_after_bar_end() -> None:
    # Act
    (pattern,) = last_patterns([bar(0, (100.0, 101.0, 99.0, 100.1))], ttl_s=600)

    # Assert
    assert pattern.detected_ns == T0_NS + MINUTE_NS
    assert pattern.expires_ns == T0_NS + MINUTE_NS + 600 * NS_PER_S


# --- boundaries ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bars", "reason"),
    [
        # Body 0.3 of range 2 is 15 %: a real body, and shadows 0.7 / 1.0 are too short for either shape.
        ([bar(0, (100.0, 101.0, 99.0, 100.3))], "body above 10 % of the range"),
        # Lower shadow 0.7 < 2 x body 0.4.
        ([bar(0, (100.0, 100.5, 99.3, 100.4))], "hammer shadow too short"),
        # Upper shadow 0.6 > 0.1 x range 2.9.
        ([bar(0, (100.0, 101.0, 98.1, 100.4))], "hammer upper shadow too long"),
        # Equal bodies (1 and 1): engulfing needs a strictly longer body.
        ([bar(0, (101.0, 101.1, 99.9, 100.0)), bar(1, (100.0, 101.1, 99.9, 101.0))], "equal bodies"),
        # Same colour twice: no engulfing.
        ([bar(0, (100.0, 100.6, 99.9, 100.5)), bar(1, (99.9, 101.6, 99.8, 101.5))], "both bullish"),
        # Volume exactly 3 x the average is not a surge (strictly more is).
        ([*plain_history(5), bar(5, PLAIN, 3000)], "volume exactly 3x"),
        # Average exactly 100 (not above): no surge however large the bar.
        ([*plain_history(5, volume=100), bar(5, PLAIN, 10_000)], "average volume 100"),
        # Four previous bars: average not known yet.
        ([*plain_history(4), bar(4, PLAIN, 10_000)], "four previous bars"),
        # Open exactly 2 % above the previous close of 100 (the gap must exceed 2 %).
        ([bar(0, (99.0, 100.1, 98.9, 100.0)), bar(1, (102.0, 103.1, 101.9, 103.0))], "gap exactly 2 %"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_near_miss_yields_nothing(bars: list[Bar], reason: str) -> None:
    # Act
    results = feed(FallbackPatternDetector(), bars)

    # Assert
    assert results == [()] * len(bars), reason


# --- zero guards ---------------------------------------------------------------------------------------


def test_zero_range_bar_is_never_a_candlestick_pattern() -> None:
    # Arrange: open = high = low = close; a real Doji needs a range to compare the body with.
    bars = [bar(0, (100.0, 100.0, 100.0, 100.0)), bar(1, (100.0, 100.0, 100.0, 100.0))]

    # Act
    results = feed(FallbackPatternDetector(), bars)

    # Assert
    assert results == [(), ()]


def test_zero_volume_history_gives_no_surge_and_no_relative_volume() -> None:
    # Arrange: five bars without volume (average 0), then a doji on 1,000 shares.
    bars = [*plain_history(5, volume=0), bar(5, (101.0, 102.0, 100.0, 101.1), volume=1000)]

    # Act
    (pattern,) = last_patterns(bars)

    # Assert
    assert pattern.pattern_type == "Doji"
    assert pattern.indicators.relative_volume is None


def test_zero_previous_close_is_never_a_gap() -> None:
    # Arrange: a bar closing at 0 is not a usable bar, so it is ignored and never becomes "previous".
    detector = FallbackPatternDetector()
    zero_close = bar(0, (1.0, 1.0, 0.0, 0.0))
    far_away = bar(1, (100.0, 101.1, 99.9, 101.0))

    # Act
    results = feed(detector, [zero_close, far_away])

    # Assert
    assert results == [(), ()]
    assert detector.bars_ignored == 1


def test_first_bar_of_a_symbol_reports_zero_change() -> None:
    # Act
    (pattern,) = last_patterns([bar(0, (100.0, 101.0, 99.0, 100.1))])

    # Assert
    assert pattern.price_change_pct == 0.0


# --- state: ordering, per-symbol history, bounds -------------------------------------------------------


def test_bar_not_after_previous_is_ignored_and_ids_stay_unique() -> None:
    # Arrange
    detector = FallbackPatternDetector()
    doji = bar(0, (100.0, 101.0, 99.0, 100.1))

    # Act
    first = detector.update(doji)
    revision = detector.update(doji)
    older = detector.update(bar(-1, (100.0, 101.0, 99.0, 100.1)))

    # Assert
    assert types(first) == ["Doji"]
    assert revision == older == ()
    assert detector.bars_ignored == 2


def test_symbols_do_not_share_history() -> None:
    # Arrange: MSFT's bar would gap against AAPL's close, but each symbol has its own previous bar.
    detector = FallbackPatternDetector()

    # Act
    results = [
        detector.update(bar(0, (99.0, 100.1, 98.9, 100.0), symbol="AAPL")),
        detector.update(bar(1, (102.5, 103.6, 102.4, 103.5), symbol="MSFT")),
    ]

    # Assert
    assert results == [(), ()]


def test_average_volume_covers_only_the_last_volume_bars() -> None:
    # Arrange: 80 bars of 10,000 shares, then 20 of 1,000: the rolling average of the last 20 is 1,000,
    # so 3,500 is a surge (it would not be against the 8,200 average of all 100 bars).
    history = [bar(m, PLAIN, 10_000) for m in range(80)] + [bar(m, PLAIN, 1000) for m in range(80, 100)]

    # Act
    (pattern,) = last_patterns([*history, bar(100, PLAIN, 3500)])

    # Assert
    assert pattern.pattern_type == "High_Volume_Surge"
    assert pattern.indicators.relative_volume == pytest.approx(3.5)


def test_least_recently_updated_symbol_is_forgotten_beyond_max_symbols() -> None:
    # Arrange
    detector = FallbackPatternDetector(max_symbols=2)
    close_100 = (99.0, 100.1, 98.9, 100.0)
    feed(detector, [bar(0, close_100, symbol="AAPL"), bar(0, close_100, symbol="MSFT")])
    detector.update(bar(1, close_100, symbol="AAPL"))  # AAPL is now the most recently updated

    # Act
    detector.update(bar(1, close_100, symbol="NVDA"))  # evicts MSFT
    aapl_gap = detector.update(bar(2, (102.5, 103.6, 102.4, 103.5), symbol="AAPL"))
    msft_gap = detector.update(bar(2, (102.5, 103.6, 102.4, 103.5), symbol="MSFT"))

    # Assert
    assert msft_gap == ()  # MSFT's previous close was forgotten: no gap can be measured
    assert types(aapl_gap) == ["Price_Gap"]
    assert detector.symbols_tracked == 2


def test_reset_forgets_history() -> None:
    # Arrange
    detector = FallbackPatternDetector()
    detector.update(bar(0, (99.0, 100.1, 98.9, 100.0)))

    # Act
    detector.reset()
    after = detector.update(bar(1, (102.5, 103.6, 102.4, 103.5)))

    # Assert
    assert after == ()
    assert detector.symbols_tracked == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"ttl_s": 0}, {"volume_bars": 4, "min_volume_bars": 5}, {"min_volume_bars": 0}, {"max_symbols": 0}],
)
def test_invalid_parameters_raise_value_error(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        FallbackPatternDetector(**kwargs)
