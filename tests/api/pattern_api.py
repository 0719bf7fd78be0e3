"""Patterns, a started PatternService and error readers for the PatternService API tests."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from api_server import ApiServer, ServerFactory
from event_factories import TS_NS
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tickstock.v1 import pattern_service_pb2_grpc
from tickstock_server.domain.patterns import Pattern, PatternIndicators, PatternSource, PatternTimeframe

NOW_NS = TS_NS
"""The test servers' clock: 2026-01-06T15:00:00Z."""
HOUR_NS = 3600 * 10**9

Metadata = tuple[tuple[str, str], ...]


def make_pattern(
    pattern_id: str,
    symbol: str = "AAPL",
    pattern_type: str = "Bull_Flag",
    confidence: float = 0.8,
    timeframe: PatternTimeframe | None = None,
    indicators: PatternIndicators | None = None,
    age_s: int = 0,
) -> Pattern:
    """A producer pattern detected `age_s` before `NOW_NS`, current for an hour after it."""
    detected_ns = NOW_NS - age_s * 10**9
    return Pattern(
        pattern_id=pattern_id,
        symbol=symbol,
        pattern_type=pattern_type,
        confidence=confidence,
        price=100.0,
        price_change_pct=1.0,
        detected_ns=detected_ns,
        expires_ns=NOW_NS + HOUR_NS,
        timeframe=timeframe,
        source=PatternSource.PRODUCER,
        indicators=indicators or PatternIndicators(),
    )


DAY, INTRA, COMBO = PatternTimeframe.DAILY, PatternTimeframe.INTRADAY, PatternTimeframe.COMBO

PATTERNS = tuple(
    make_pattern(
        pattern_id,
        symbol,
        pattern_type,
        confidence,
        timeframe,
        PatternIndicators(relative_strength=strength, relative_volume=volume, rsi=rsi),
        age_s=age_s,
    )
    for pattern_id, symbol, pattern_type, confidence, timeframe, strength, volume, rsi, age_s in (
        # id, symbol, type, confidence, timeframe, relative strength, relative volume, RSI, age in s
        ("p01", "AAPL", "Bull_Flag", 0.90, DAY, 1.5, 2.0, 60.0, 5),
        ("p02", "MSFT", "Doji", 0.70, INTRA, 0.8, 1.0, 30.0, 1),
        ("p03", "IBM", "Bull_Flag", 0.60, COMBO, None, None, None, 9),
        ("p04", "NVDA", "Hammer", 0.95, DAY, None, None, 75.0, 2),
        ("p05", "TSLA", "Doji", 0.55, None, None, None, None, 7),
        ("p06", "AMD", "Bull_Flag", 0.40, INTRA, 2.5, 0.5, None, 3),
        ("p07", "AAPL", "Doji", 0.70, DAY, 1.2, 3.0, 45.0, 8),
        ("p08", "JPM", "Hammer", 0.70, None, None, None, None, 4),
        ("p09", "MSFT", "Bull_Flag", 0.85, COMBO, None, 1.5, None, 6),
        ("p10", "IBM", "Doji", 0.50, DAY, 0.9, 0.9, 55.0, 10),
        ("p11", "NVDA", "Doji", 0.90, INTRA, 1.1, None, None, 0),
    )
)
"""Eleven patterns with ties in confidence, some without timeframe or indicators."""


@dataclass
class PatternApi:
    """A server serving PatternService at `NOW_NS`, a stub, and a second user."""

    api: ApiServer
    stub: pattern_service_pb2_grpc.PatternServiceStub
    alice: Metadata
    bob: Metadata

    def put(self, *patterns: Pattern) -> None:
        """Put patterns into the cache, as the producer consumer does (live streams and alerts follow)."""
        for pattern in patterns:
            self.api.patterns.cache.put(pattern)


async def start_patterns(start_api_server: ServerFactory) -> PatternApi:
    """Start a server with PatternService on a clock pinned to `NOW_NS`."""
    api: ApiServer = await start_api_server(patterns=True, clock_ns=lambda: NOW_NS)
    bob = await api.keys.create("bob")
    return PatternApi(
        api=api,
        stub=api.patterns_stub(),
        alice=api.metadata,
        bob=(("authorization", f"Bearer {bob.token}"),),
    )


def violations(error: grpc.aio.AioRpcError) -> list[str]:
    """The fields of an error's BadRequest violations, in order."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    fields: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields += [violation.field for violation in bad_request.field_violations]
    return fields
