"""Producer message bodies for the contract tests: a valid pattern and its variants."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from tickstock_server.domain.patterns import Pattern, PatternIndicators, PatternSource, PatternTimeframe
from tickstock_server.producer.events import (
    PatternExpiry,
)
from tickstock_server.producer.messages import (
    MessageRejectedError,
    parse_pattern_message,
)

DETECTED_S = 1_767_700_000.25  # 2026-01-06T11:46:40.25Z; exact in binary
DETECTED_NS = 1_767_700_000_250_000_000
PUBLISHED_S = 1_767_700_001.5
EXPIRES_S = 1_767_703_000.0
RECEIVED_NS = 1_767_700_002_000_000_000
FLOW_ID = "0b6f3a52-8c1e-4c52-9d59-4f1c2e7d9a10"
HOUR_NS = 3600 * 1_000_000_000


def pattern_data(**overrides: Any) -> dict[str, Any]:
    """The pattern fields of the contract's example, as TickStockPL documents them."""
    data: dict[str, Any] = {
        "symbol": "AAPL", "pattern": "Weekly_Breakout", "confidence": 0.85, "flow_id": FLOW_ID,
        "tier": "daily", "price_change": 2.3, "current_price": 150.25, "volume": 1_250_000,
        "timestamp": DETECTED_S, "expires_at": EXPIRES_S,
        "indicators": {"relative_strength": 1.4, "relative_volume": 2.1, "rsi": 65.5, "sma_20": 148.5},
    }  # fmt: skip
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not _DROP}


_DROP = object()
"""Override value that removes the field."""


def envelope(event_type: str = "pattern_detected", **data_overrides: Any) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "source": "TickStockPL",
        "timestamp": PUBLISHED_S,
        "data": pattern_data(**data_overrides),
    }


def encode(message: object) -> bytes:
    return json.dumps(message).encode()


EXPECTED = Pattern(
    pattern_id=f"AAPL:Weekly_Breakout:{DETECTED_NS}:{FLOW_ID}",
    symbol="AAPL",
    pattern_type="Weekly_Breakout",
    confidence=0.85,
    price=150.25,
    price_change_pct=2.3,
    detected_ns=DETECTED_NS,
    expires_ns=1_767_703_000_000_000_000,
    timeframe=PatternTimeframe.DAILY,
    source=PatternSource.PRODUCER,
    indicators=PatternIndicators(relative_strength=1.4, relative_volume=2.1, rsi=65.5),
    flow_id=FLOW_ID,
)


def parse(raw: bytes | str, **kwargs: Any) -> Pattern | PatternExpiry:
    return parse_pattern_message(raw, received_ns=RECEIVED_NS, **kwargs)


def reason_of(parser: Callable[..., object], raw: bytes | str) -> str:
    with pytest.raises(MessageRejectedError) as caught:
        parser(raw, received_ns=RECEIVED_NS)
    return caught.value.reason


FLAT = {"event_type": "pattern_detected", "source": "TickStockPL", **pattern_data()}
DOUBLY_NESTED = {
    "event_type": "pattern_detected",
    "source": "TickStockPL",
    "timestamp": PUBLISHED_S,
    # The flow id sits on the middle level, the pattern one level deeper (as the original found them).
    "data": {"flow_id": FLOW_ID, "data": pattern_data(flow_id=_DROP)},
}
PROGRESS = {"job_id": "backtest_1767700000_1a2b3c4d", "progress": 0.45, "current_symbol": "msft",
            "estimated_completion": 1_767_700_120.0}  # fmt: skip
RESULTS = {"total_return": 0.124, "win_rate": 0.58, "total_trades": 42, "sharpe_ratio": 1.35,
           "max_drawdown": -0.08, "equity_curve": [100_000, 101_200], "by_pattern": {"Doji": 12}}  # fmt: skip

ACCEPTED_SHAPES = [
    pytest.param(envelope(), id="envelope"),
    pytest.param(envelope(pattern=_DROP, pattern_name="Weekly_Breakout"), id="legacy_pattern_name"),
    pytest.param(FLAT, id="flat"),
    pytest.param({key: v for key, v in FLAT.items() if key != "event_type"}, id="flat_without_event_type"),
    pytest.param(DOUBLY_NESTED, id="doubly_nested"),
    pytest.param(envelope("pattern_updated"), id="pattern_updated"),
    pytest.param(envelope(symbol="aapl"), id="lower_case_symbol"),
]
