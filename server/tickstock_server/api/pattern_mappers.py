"""Proto conversions of PatternService: patterns, scan requests and page tokens, alert subscriptions."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from tickstock.v1 import common_pb2, events_pb2, pattern_service_pb2
from tickstock_server.api.mappers import timestamp_from_ns
from tickstock_server.domain.alerts import (
    DEFAULT_MAX_ALERTS_PER_HOUR,
    DEFAULT_TIME_ZONE,
    AlertSubscription,
    QuietHours,
    TimeOfDay,
)
from tickstock_server.domain.patterns import Pattern, PatternSource, PatternTimeframe
from tickstock_server.domain.symbols import is_symbol
from tickstock_server.errors import FieldViolation, InvalidRequestError
from tickstock_server.patterns.scan import ScanCursor, ScanQuery, ScanSortField

TIMEFRAMES: dict[PatternTimeframe, events_pb2.PatternTimeframe.ValueType] = {
    PatternTimeframe.DAILY: events_pb2.PATTERN_TIMEFRAME_DAILY,
    PatternTimeframe.INTRADAY: events_pb2.PATTERN_TIMEFRAME_INTRADAY,
    PatternTimeframe.COMBO: events_pb2.PATTERN_TIMEFRAME_COMBO,
}
_TIMEFRAMES_FROM_PROTO = {proto: domain for domain, proto in TIMEFRAMES.items()}
_SOURCES: dict[PatternSource, events_pb2.PatternSource.ValueType] = {
    PatternSource.PRODUCER: events_pb2.PATTERN_SOURCE_PRODUCER,
    PatternSource.FALLBACK: events_pb2.PATTERN_SOURCE_FALLBACK,
}
_SORT_FIELDS = {
    pattern_service_pb2.PATTERN_SORT_FIELD_UNSPECIFIED: ScanSortField.CONFIDENCE,
    pattern_service_pb2.PATTERN_SORT_FIELD_CONFIDENCE: ScanSortField.CONFIDENCE,
    pattern_service_pb2.PATTERN_SORT_FIELD_DETECT_TIME: ScanSortField.DETECTED,
    pattern_service_pb2.PATTERN_SORT_FIELD_SYMBOL: ScanSortField.SYMBOL,
    pattern_service_pb2.PATTERN_SORT_FIELD_RELATIVE_STRENGTH: ScanSortField.RELATIVE_STRENGTH,
    pattern_service_pb2.PATTERN_SORT_FIELD_RELATIVE_VOLUME: ScanSortField.RELATIVE_VOLUME,
}
DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 100
_SORT_ORDERS = frozenset(common_pb2.SortOrder.values())
DEFAULT_SCAN_MIN_CONFIDENCE = 0.5


def pattern_to_proto(pattern: Pattern) -> pattern_service_pb2.Pattern:
    """A domain pattern to its proto."""
    indicators = events_pb2.PatternIndicators()
    for name in ("relative_strength", "relative_volume", "rsi"):
        value = getattr(pattern.indicators, name)
        if value is not None:
            setattr(indicators, name, value)
    return pattern_service_pb2.Pattern(
        symbol=pattern.symbol,
        price=pattern.price or 0.0,
        detect_time=timestamp_from_ns(pattern.detected_ns),
        details=events_pb2.PatternDetails(
            pattern_id=pattern.pattern_id,
            pattern_type=pattern.pattern_type,
            confidence=pattern.confidence,
            price_change=pattern.price_change_pct,
            expire_time=timestamp_from_ns(pattern.expires_ns),
            timeframe=TIMEFRAMES[pattern.timeframe] if pattern.timeframe else 0,  # type: ignore[arg-type]
            source=_SOURCES[pattern.source],
            indicators=indicators,
            flow_id=pattern.flow_id,
        ),
    )


MAX_FILTER_SYMBOLS = 2_000
"""Most symbols a pattern filter may name (its universes expand on top of them)."""
MAX_FILTER_UNIVERSES = 20
"""Most universes a pattern filter may name."""
MAX_FILTER_PATTERN_TYPES = 100
"""Most pattern types a pattern filter may name."""
MAX_PATTERN_TYPE_CHARS = 64
"""Longest pattern type name a filter may give."""


def filter_size_violations(proto: pattern_service_pb2.PatternFilter) -> list[FieldViolation]:
    """Lists of the filter that are too long: checked first, before any of their entries is looked at."""
    return [
        FieldViolation(f"filter.{name}", f"at most {limit} entries (got {len(values)})")
        for name, values, limit in (
            ("symbols", proto.symbols, MAX_FILTER_SYMBOLS),
            ("universes", proto.universes, MAX_FILTER_UNIVERSES),
            ("pattern_types", proto.pattern_types, MAX_FILTER_PATTERN_TYPES),
        )
        if len(values) > limit
    ]


def filter_fields(
    proto: pattern_service_pb2.PatternFilter,
    universe_symbols: frozenset[str] | None,
    violations: list[FieldViolation],
    *,
    min_confidence: float,
) -> dict[str, Any]:
    """Validate a PatternFilter into ScanQuery keyword arguments.

    `universe_symbols` are its universes already expanded: symbols and universes form one set, and a
    filter naming neither selects every symbol.
    """
    prefix = "filter"
    symbols = set()
    for index, raw in enumerate(proto.pattern_types):
        if len(raw) > MAX_PATTERN_TYPE_CHARS:
            violations.append(
                FieldViolation(
                    f"{prefix}.pattern_types[{index}]", f"at most {MAX_PATTERN_TYPE_CHARS} characters"
                )
            )
    for index, raw in enumerate(proto.symbols):
        symbol = raw.strip().upper()
        if is_symbol(symbol):
            symbols.add(symbol)
        else:
            violations.append(
                FieldViolation(f"{prefix}.symbols[{index}]", f"{raw[:32]!r} is not a ticker symbol")
            )
    if proto.HasField("min_confidence"):
        min_confidence = proto.min_confidence
        if not 0 <= min_confidence <= 1:
            violations.append(FieldViolation(f"{prefix}.min_confidence", "must be between 0 and 1"))
    named = bool(proto.symbols or proto.universes)
    fields: dict[str, Any] = {
        "pattern_types": frozenset(t.strip() for t in proto.pattern_types if t.strip()),
        "symbols": frozenset(symbols) | (universe_symbols or frozenset()) if named else None,
        "min_confidence": min_confidence,
        "timeframes": frozenset(),
    }
    for name in ("min_relative_strength", "min_relative_volume"):
        if proto.HasField(name):
            value = getattr(proto, name)
            if not value >= 0:
                violations.append(FieldViolation(f"{prefix}.{name}", "must not be negative"))
            fields[name] = value
    min_rsi = proto.min_rsi if proto.HasField("min_rsi") else 0.0
    max_rsi = proto.max_rsi if proto.HasField("max_rsi") else 100.0
    for name, value in (("min_rsi", min_rsi), ("max_rsi", max_rsi)):
        if not 0 <= value <= 100:
            violations.append(FieldViolation(f"{prefix}.{name}", "must be between 0 and 100"))
    if min_rsi > max_rsi:
        violations.append(FieldViolation(f"{prefix}.max_rsi", f"must not be below {prefix}.min_rsi"))
    fields["min_rsi"], fields["max_rsi"] = min_rsi, max_rsi
    timeframes = set()
    for index, timeframe in enumerate(proto.timeframes):
        if timeframe in _TIMEFRAMES_FROM_PROTO:
            timeframes.add(_TIMEFRAMES_FROM_PROTO[timeframe])
        else:
            violations.append(
                FieldViolation(f"{prefix}.timeframes[{index}]", "must be DAILY, INTRADAY or COMBO")
            )
    fields["timeframes"] = frozenset(timeframes)
    return fields


def _token_binding(request: pattern_service_pb2.ScanPatternsRequest) -> str:
    copy = pattern_service_pb2.ScanPatternsRequest()
    copy.CopyFrom(request)
    copy.page_token = ""
    copy.page_size = 0
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()[:16]


def page_token(request: pattern_service_pb2.ScanPatternsRequest, cursor: ScanCursor) -> str:
    """An opaque token for the page after `cursor`, bound to the request's filters and order."""
    body = {"q": _token_binding(request), "k": cursor.sort_key, "i": cursor.pattern_id}
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


def scan_query_from_proto(
    request: pattern_service_pb2.ScanPatternsRequest, universe_symbols: frozenset[str] | None
) -> ScanQuery:
    """Validate a ScanPatternsRequest; `universe_symbols` are its universes already expanded."""
    violations: list[FieldViolation] = []
    fields = filter_fields(
        request.filter, universe_symbols, violations, min_confidence=DEFAULT_SCAN_MIN_CONFIDENCE
    )
    sort_by = _SORT_FIELDS.get(request.sort_by)
    if sort_by is None:
        violations.append(FieldViolation("sort_by", "unknown sort field"))
    page_size = request.page_size or DEFAULT_PAGE_SIZE
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        violations.append(FieldViolation("page_size", f"must be 1 to {MAX_PAGE_SIZE}"))
    cursor = None
    if request.page_token:
        try:
            body = json.loads(base64.urlsafe_b64decode(request.page_token.encode()))
            if body["q"] != _token_binding(request):
                raise ValueError("bound to another request")
            cursor = ScanCursor(sort_key=body["k"], pattern_id=str(body["i"]))
        except (ValueError, KeyError, TypeError):
            violations.append(FieldViolation("page_token", "not a token of this request's filter and order"))
    if request.sort_order not in _SORT_ORDERS:
        violations.append(FieldViolation("sort_order", "unknown sort order"))
    if violations:
        raise InvalidRequestError(violations)
    descending = request.sort_order != common_pb2.SORT_ORDER_ASCENDING
    try:
        return ScanQuery(
            sort_by=sort_by or ScanSortField.CONFIDENCE,
            descending=descending,
            page_size=page_size,
            after=cursor,
            **fields,
        )
    except ValueError as exc:  # a cursor whose key does not fit the sort field
        raise InvalidRequestError([FieldViolation("page_token", str(exc))]) from exc


def alert_subscription_from_proto(
    proto: pattern_service_pb2.AlertSubscription, user: str
) -> AlertSubscription:
    """The request's subscription (validation is the store's); server-assigned fields are ignored."""
    quiet = None
    if proto.HasField("quiet_hours"):
        quiet = QuietHours(
            start=TimeOfDay(hours=proto.quiet_hours.start.hours, minutes=proto.quiet_hours.start.minutes),
            end=TimeOfDay(hours=proto.quiet_hours.end.hours, minutes=proto.quiet_hours.end.minutes),
        )
    return AlertSubscription(
        subscription_id="",
        user=user,
        pattern_types=tuple(proto.pattern_types),
        symbols=tuple(s.strip().upper() for s in proto.symbols),
        universes=tuple(proto.universes),
        min_confidence=proto.min_confidence,
        quiet_hours=quiet,
        time_zone=proto.time_zone or DEFAULT_TIME_ZONE,
        max_alerts_per_hour=proto.max_alerts_per_hour or DEFAULT_MAX_ALERTS_PER_HOUR,
    )


def alert_subscription_to_proto(subscription: AlertSubscription) -> pattern_service_pb2.AlertSubscription:
    """A stored subscription to its proto."""
    proto = pattern_service_pb2.AlertSubscription(
        subscription_id=subscription.subscription_id,
        pattern_types=subscription.pattern_types,
        symbols=subscription.symbols,
        universes=subscription.universes,
        min_confidence=subscription.min_confidence,
        time_zone=subscription.time_zone,
        max_alerts_per_hour=subscription.max_alerts_per_hour,
        create_time=timestamp_from_ns(subscription.create_ns),
    )
    if subscription.quiet_hours is not None:
        start, end = subscription.quiet_hours.start, subscription.quiet_hours.end
        proto.quiet_hours.start.CopyFrom(common_pb2.TimeOfDay(hours=start.hours, minutes=start.minutes))
        proto.quiet_hours.end.CopyFrom(common_pb2.TimeOfDay(hours=end.hours, minutes=end.minutes))
    return proto
