"""Pattern metrics: the cache's size, evictions, expiries and scans; the fallback switch's activations."""

from __future__ import annotations

from typing import Any

from factories import NS_PER_S

from tickstock_server.domain.patterns import Pattern, PatternSource, PatternTimeframe
from tickstock_server.patterns.cache import PatternCache
from tickstock_server.patterns.fallback_switch import FallbackSwitch
from tickstock_server.patterns.scan import ScanQuery
from tickstock_server.support.metric_samples import MetricKind

NOW_NS = 1_780_000_000 * NS_PER_S


def _pattern(pattern_id: str, expires_in_s: int, **overrides: Any) -> Pattern:
    fields: dict[str, Any] = {
        "pattern_id": pattern_id,
        "symbol": "AAPL",
        "pattern_type": "Bull_Flag",
        "confidence": 0.8,
        "price": 100.0,
        "price_change_pct": 0.0,
        "detected_ns": NOW_NS,
        "expires_ns": NOW_NS + expires_in_s * NS_PER_S,
        "timeframe": PatternTimeframe.DAILY,
        "source": PatternSource.PRODUCER,
    }
    return Pattern(**{**fields, **overrides})


def test_cache_exports_its_size_evictions_expiries_and_scans() -> None:
    # Arrange: room for two patterns
    cache = PatternCache(max_patterns=2)
    cache.put(_pattern("soon", 10))
    cache.put(_pattern("later", 100))

    # Act
    cache.put(_pattern("newest", 50))  # evicts "soon", the soonest to expire
    cache.scan(ScanQuery(), NOW_NS + 60 * NS_PER_S)  # removes "newest", expired by then

    # Assert
    samples = cache.metric_samples()
    assert {s.name: s.value for s in samples} == {
        "tickstock_patterns_cached": 1,
        "tickstock_pattern_cache_evicted": 1,
        "tickstock_pattern_cache_expired": 1,
        "tickstock_pattern_scans": 1,
    }
    assert {s.name: s.kind for s in samples}["tickstock_patterns_cached"] is MetricKind.GAUGE
    assert all(not s.labels for s in samples)


def test_fallback_switch_exports_activations_stand_downs_and_whether_it_is_active() -> None:
    # Arrange
    switch = FallbackSwitch(activate_after_s=90, stand_down_after_s=120)
    t0 = NOW_NS

    # Act: stale at 90 s; fresh heartbeats from 100 s on for 120 s; stale again
    switch.observe(t0 + 90 * NS_PER_S, t0)
    for offset_s in range(100, 230, 10):
        switch.observe(t0 + offset_s * NS_PER_S, t0 + offset_s * NS_PER_S)
    switch.observe(t0 + 400 * NS_PER_S, t0 + 220 * NS_PER_S)

    # Assert
    assert {s.name: s.value for s in switch.metric_samples()} == {
        "tickstock_pattern_fallback_activations": 2,
        "tickstock_pattern_fallback_stand_downs": 1,
        "tickstock_pattern_fallback_active": 1.0,
    }
