"""Proto conversions of PatternService: patterns, scan and stream requests, page tokens, alerts."""

from __future__ import annotations

from google.protobuf import duration_pb2

from tickstock.v1 import common_pb2, pattern_service_pb2
from tickstock_server.api.mappers._common import (
    decode_page_token,
    encode_page_token,
    request_binding,
    timestamp_from_ns,
)
from tickstock_server.api.mappers.events import TIMEFRAMES, pattern_details_to_proto
from tickstock_server.domain.alerts import (
    DEFAULT_MAX_ALERTS_PER_HOUR,
    DEFAULT_TIME_ZONE,
    Alert,
    AlertsSuppressed,
    AlertSubscription,
    QuietHours,
    TimeOfDay,
)
from tickstock_server.domain.pattern_events import pattern_details
from tickstock_server.domain.patterns import Pattern
from tickstock_server.domain.symbols import is_symbol
from tickstock_server.errors import FieldViolation, InvalidRequestError
from tickstock_server.patterns.scan import PatternFilterSpec, ScanCursor, ScanQuery, ScanSortField
from tickstock_server.support.time_units import NS_PER_S

_TIMEFRAMES_FROM_PROTO = {proto: domain for domain, proto in TIMEFRAMES.items()}
_SORT_FIELDS = {
    pattern_service_pb2.PATTERN_SORT_FIELD_UNSPECIFIED: ScanSortField.CONFIDENCE,
    pattern_service_pb2.PATTERN_SORT_FIELD_CONFIDENCE: ScanSortField.CONFIDENCE,
    pattern_service_pb2.PATTERN_SORT_FIELD_DETECT_TIME: ScanSortField.DETECTED,
    pattern_service_pb2.PATTERN_SORT_FIELD_SYMBOL: ScanSortField.SYMBOL,
    pattern_service_pb2.PATTERN_SORT_FIELD_RELATIVE_STRENGTH: ScanSortField.RELATIVE_STRENGTH,
    pattern_service_pb2.PATTERN_SORT_FIELD_RELATIVE_VOLUME: ScanSortField.RELATIVE_VOLUME,
}
DEFAULT_PAGE_SIZE = 30
DEFAULT_SCAN_MIN_CONFIDENCE = 0.5
DEFAULT_STREAM_MIN_CONFIDENCE = 0.0
"""A live pattern stream's lowest confidence when its filter names none."""
DEFAULT_HEARTBEAT_S = 15.0
"""Idle seconds between stream heartbeats when the request gives no interval."""
_FLOAT_SORTS = frozenset(
    {ScanSortField.CONFIDENCE, ScanSortField.RELATIVE_STRENGTH, ScanSortField.RELATIVE_VOLUME}
)
_BAD_SCAN_TOKEN = "not a token of this request's filter and order"


def pattern_to_proto(pattern: Pattern) -> pattern_service_pb2.Pattern:
    """A domain pattern to its proto."""
    return pattern_service_pb2.Pattern(
        symbol=pattern.symbol,
        price=pattern.price or 0.0,
        detect_time=timestamp_from_ns(pattern.detected_ns),
        details=pattern_details_to_proto(pattern_details(pattern)),
    )


def in_filter(error: InvalidRequestError) -> InvalidRequestError:
    """`error` of the filter's universes (fields ``universes[i]``) with its fields under ``filter.``."""
    return InvalidRequestError([FieldViolation(f"filter.{v.field}", v.description) for v in error.violations])


def pattern_filter_from_proto(
    proto: pattern_service_pb2.PatternFilter,
    universe_symbols: frozenset[str] | None,
    violations: list[FieldViolation],
    *,
    min_confidence: float,
) -> PatternFilterSpec:
    """Validate a PatternFilter, appending what is wrong to `violations`.

    `universe_symbols` are its universes already expanded: symbols and universes form one set, and a
    filter naming neither selects every symbol. `min_confidence` applies when the filter gives none.
    The result is only meaningful when no violation was added.
    """
    prefix = "filter"
    symbols = set()
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
    minimums: list[float] = []
    for name in ("min_relative_strength", "min_relative_volume"):
        value = 0.0
        if proto.HasField(name):
            value = getattr(proto, name)
            if not value >= 0:
                violations.append(FieldViolation(f"{prefix}.{name}", "must not be negative"))
        minimums.append(value)
    min_relative_strength, min_relative_volume = minimums
    min_rsi = proto.min_rsi if proto.HasField("min_rsi") else 0.0
    max_rsi = proto.max_rsi if proto.HasField("max_rsi") else 100.0
    for name, value in (("min_rsi", min_rsi), ("max_rsi", max_rsi)):
        if not 0 <= value <= 100:
            violations.append(FieldViolation(f"{prefix}.{name}", "must be between 0 and 100"))
    if min_rsi > max_rsi:
        violations.append(FieldViolation(f"{prefix}.max_rsi", f"must not be below {prefix}.min_rsi"))
    timeframes = set()
    for index, timeframe in enumerate(proto.timeframes):
        if timeframe in _TIMEFRAMES_FROM_PROTO:
            timeframes.add(_TIMEFRAMES_FROM_PROTO[timeframe])
        else:
            violations.append(
                FieldViolation(f"{prefix}.timeframes[{index}]", "must be DAILY, INTRADAY or COMBO")
            )
    return PatternFilterSpec(
        pattern_types=frozenset(t.strip() for t in proto.pattern_types if t.strip()),
        symbols=frozenset(symbols) | (universe_symbols or frozenset()) if named else None,
        min_confidence=min_confidence,
        min_relative_strength=min_relative_strength,
        min_relative_volume=min_relative_volume,
        min_rsi=min_rsi,
        max_rsi=max_rsi,
        timeframes=frozenset(timeframes),
    )


def _token_shape(sort_by: ScanSortField) -> tuple[type[int] | type[str], type[str]]:
    # Float keys travel as their repr (the codec carries ints and strings), exact on the way back.
    return (int, str) if sort_by is ScanSortField.DETECTED else (str, str)


def page_token(
    request: pattern_service_pb2.ScanPatternsRequest, cursor: ScanCursor, sort_by: ScanSortField
) -> str:
    """An opaque token for the page after `cursor`, bound to the request's filters and order."""
    key = cursor.sort_key
    value: int | str
    if sort_by in _FLOAT_SORTS:
        value = repr(float(key))
    elif sort_by is ScanSortField.DETECTED:
        value = int(key)
    else:
        value = str(key)
    return encode_page_token(request_binding(request), (value, cursor.pattern_id))


def _scan_cursor(
    request: pattern_service_pb2.ScanPatternsRequest, sort_by: ScanSortField, violations: list[FieldViolation]
) -> ScanCursor | None:
    try:
        value, pattern_id = decode_page_token(
            request.page_token, request_binding(request), _token_shape(sort_by)
        )
        key = float(value) if sort_by in _FLOAT_SORTS else value
    except (InvalidRequestError, ValueError):
        violations.append(FieldViolation("page_token", _BAD_SCAN_TOKEN))
        return None
    return ScanCursor(sort_key=key, pattern_id=str(pattern_id))


def scan_query_from_proto(
    request: pattern_service_pb2.ScanPatternsRequest, universe_symbols: frozenset[str] | None
) -> ScanQuery:
    """Validate a ScanPatternsRequest; `universe_symbols` are its universes already expanded."""
    violations: list[FieldViolation] = []
    spec = pattern_filter_from_proto(
        request.filter, universe_symbols, violations, min_confidence=DEFAULT_SCAN_MIN_CONFIDENCE
    )
    # The proto's rules admit only defined sort fields and orders, and page sizes up to 100.
    sort_by = _SORT_FIELDS[request.sort_by]
    page_size = request.page_size or DEFAULT_PAGE_SIZE
    cursor = _scan_cursor(request, sort_by, violations) if request.page_token else None
    if violations:
        raise InvalidRequestError(violations)
    descending = request.sort_order != common_pb2.SORT_ORDER_ASCENDING
    try:
        return ScanQuery.of(spec, sort_by=sort_by, descending=descending, page_size=page_size, after=cursor)
    except ValueError as exc:  # a cursor whose key does not fit the sort field
        raise InvalidRequestError([FieldViolation("page_token", str(exc))]) from exc


def stream_query_from_proto(
    request: pattern_service_pb2.StreamPatternsRequest, universe_symbols: frozenset[str] | None
) -> ScanQuery:
    """Validate the filter of a StreamPatternsRequest; `universe_symbols` are its universes expanded."""
    violations: list[FieldViolation] = []
    spec = pattern_filter_from_proto(
        request.filter, universe_symbols, violations, min_confidence=DEFAULT_STREAM_MIN_CONFIDENCE
    )
    if violations:
        raise InvalidRequestError(violations)
    return ScanQuery.of(spec)


def heartbeat_s_from_proto(duration: duration_pb2.Duration) -> float:
    """A stream request's heartbeat interval in seconds: `DEFAULT_HEARTBEAT_S` when unset, else 1 to 60.

    The proto's rules bound it to 0 to 60 s; this refuses the gap between 0 (the default) and 1 s.
    """
    seconds = duration.seconds + duration.nanos / NS_PER_S
    if not seconds:
        return DEFAULT_HEARTBEAT_S
    if not 1 <= seconds <= 60:
        raise InvalidRequestError([FieldViolation("heartbeat_interval", "must be 1 s to 60 s")])
    return float(seconds)


def alert_subscription_from_proto(
    proto: pattern_service_pb2.AlertSubscription, user: str
) -> AlertSubscription:
    """The request's subscription (validation is the alert service's); server-assigned fields are ignored."""
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


def alert_to_proto(alert: Alert) -> pattern_service_pb2.Alert:
    """A delivered alert to its proto."""
    return pattern_service_pb2.Alert(
        subscription_id=alert.subscription_id, pattern=pattern_to_proto(alert.pattern)
    )


def alerts_suppressed_to_proto(notice: AlertsSuppressed) -> pattern_service_pb2.AlertsSuppressed:
    """A suppression notice to its proto."""
    return pattern_service_pb2.AlertsSuppressed(
        subscription_id=notice.subscription_id,
        quiet_hours_count=notice.quiet_hours_count,
        rate_limited_count=notice.rate_limited_count,
    )
