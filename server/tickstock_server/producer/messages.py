"""TickStockPL's Redis messages (untrusted JSON) validated into domain values, or rejected with a reason.

One parse function per inbound channel. Each returns a typed value or raises `MessageRejectedError` whose
`reason` is a short, stable string from `REJECT_REASONS`, fit for a metric label. Nothing else escapes:
malformed JSON, deep nesting, huge numbers, wrong types and out-of-range values all become reasons.

Validation is strict: no type coercion ("0.85" is not a number, 1 is not ``true``), numbers must be finite,
and a value on the wrong scale is rejected rather than rescaled (a confidence of 85 is "bad_confidence":
the original silently mixed 0-1 and 0-100 scales). Timestamps are epoch seconds between 2000 and 2100, so
a millisecond timestamp is "bad_timestamp" rather than a date in the year 57,000.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final

from pydantic import ValidationError

from tickstock_server.domain.patterns import Pattern, PatternIndicators, PatternSource, PatternTimeframe
from tickstock_server.errors import MessageRejectedError
from tickstock_server.producer.decoding import (
    BASE_REASONS,
    DEFAULT_MAX_MESSAGE_BYTES,
    check_event_type,
    check_size,
    decode_object,
    envelope_epoch_s,
    epoch_ns,
    needs_general_path,
    symbol,
    validate,
)
from tickstock_server.producer.events import PatternExpiry
from tickstock_server.producer.models import (
    HealthModel,
    PatternEnvelopeModel,
    PatternModel,
    ProgressModel,
    ResultMetricsModel,
    ResultModel,
    field_reasons,
)
from tickstock_server.producer.reports import (
    parse_backtest_outcome,
    parse_backtest_progress,
    parse_producer_health,
)
from tickstock_server.support.time_units import NS_PER_S

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_PATTERN_TTL_S",
    "REJECT_REASONS",
    "MessageRejectedError",
    "parse_backtest_outcome",
    "parse_backtest_progress",
    "parse_pattern_message",
    "parse_producer_health",
]

DEFAULT_PATTERN_TTL_S: Final = 3600.0
"""How long a pattern without ``expires_at`` stays current after its detection, in seconds."""

REJECT_REASONS: Final[frozenset[str]] = (
    BASE_REASONS
    | {"missing_pattern"}  # neither `pattern` nor `pattern_name`
    | field_reasons(PatternModel, HealthModel, ProgressModel, ResultModel, ResultMetricsModel)
)
"""Every reason a parse function can give: a closed set, so metric labels stay bounded."""

_PATTERN_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\- ]{0,63}")
"""Pattern names as producers spell them ("Bull_Flag", "Doji"); no ':' (it separates pattern id parts)."""
_ID_SAFE: Final = re.compile(r"[A-Za-z0-9_\-]{1,64}")
"""A flow id used verbatim inside a pattern id (a uuid4 is); any other is replaced by a digest."""
_MAX_FLOW_ID_CHARS: Final = 128
_TIMEFRAMES: Final = {timeframe.value: timeframe for timeframe in PatternTimeframe}
_PATTERN_EVENT_TYPES: Final = frozenset({"pattern_detected", "pattern_updated", "pattern_expired"})
_PATTERN_EXPIRY: Final = PatternExpiry()


def parse_pattern_message(
    raw: bytes | str,
    *,
    received_ns: int,
    default_ttl_s: float = DEFAULT_PATTERN_TTL_S,
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> Pattern | PatternExpiry:
    """Validate a message of ``tickstock.events.patterns``.

    Accepted shapes: the envelope ``{event_type, source, timestamp, data: {...}}``, a flat payload (the
    pattern fields at the top level), a doubly nested ``data.data``, and the legacy key ``pattern_name``
    for ``pattern``. ``pattern_updated`` is read like ``pattern_detected`` (the cache re-inserts);
    ``pattern_expired`` returns a `PatternExpiry`, which the consumer ignores.

    The detection time is ``data.timestamp``, else the envelope's ``timestamp``, else `received_ns`.
    The pattern expires at ``expires_at`` (never before its detection), else `default_ttl_s` after it.

    The pattern id is ``{symbol}:{pattern}:{detected_ns}:{flow_id}``. The flow id is the producer's
    uuid4 for the detection, so replicas consuming the same message derive the same id, and a
    ``pattern_updated`` with the same flow id and detection time replaces the pattern. Without a flow id
    fit for an id (letters, digits, '-', '_'; at most 64), the last part is a 16-hex-digit digest of the
    raw message: identical messages map to one id, different ones never share one (the original's
    ``{symbol}:{pattern}:{int(seconds)}`` collided within a second).

    Args:
        raw: The message body.
        received_ns: Receive time, UTC epoch ns; the detection time when the message gives none.
        default_ttl_s: Lifetime of a pattern without ``expires_at``, seconds after detection.
        max_bytes: Largest message accepted, in bytes.

    Returns:
        The pattern (source PRODUCER), or `PatternExpiry` for a ``pattern_expired`` notice.

    Raises:
        MessageRejectedError: The message is invalid; its reason says why.
    """
    check_size(raw, max_bytes)
    read = _read_fast(raw) or _read_general(raw)
    if isinstance(read, PatternExpiry):
        return read
    fields, outer_flow_id, envelope_s = read
    return _pattern(fields, raw, outer_flow_id, envelope_s, received_ns, default_ttl_s)


_Read = tuple[PatternModel, str | None, float | None]
"""The pattern fields, the flow id of the level enclosing them, and the envelope's time (epoch seconds)
when the fields have none."""


def _read_fast(raw: bytes | str) -> _Read | None:
    """The usual envelope, validated straight from the bytes by pydantic's JSON parser; else None.

    About 3x faster than ``json.loads`` plus validation. It accepts only messages that `_read_general`
    reads the same way; anything else (legacy shapes, ``pattern_expired``, any error) returns None and
    goes the general way, which gives the reject reason. Messages that may hold what pydantic's parser
    accepts and the general path rejects (NaN, lone surrogates) skip this path.
    """
    if needs_general_path(raw):
        return None
    try:
        envelope = PatternEnvelopeModel.model_validate_json(raw)
    except ValidationError:
        return None
    fields = envelope.data
    return fields, envelope.flow_id, envelope.timestamp if fields.timestamp is None else None


def _read_general(raw: bytes | str) -> _Read | PatternExpiry:
    message = decode_object(raw)
    event_type = message.get("event_type", "pattern_detected")
    check_event_type(event_type, _PATTERN_EVENT_TYPES)
    if event_type == "pattern_expired":
        return _PATTERN_EXPIRY
    payload, outer_flow_id = _pattern_payload(message)
    fields = validate(PatternModel, payload)
    envelope_s = None
    # The envelope's time matters (and is checked) only when the pattern fields have none.
    if fields.timestamp is None and payload is not message and message.get("timestamp") is not None:
        envelope_s = envelope_epoch_s(message["timestamp"])
    return fields, outer_flow_id, envelope_s


def _pattern(
    fields: PatternModel,
    raw: bytes | str,
    outer_flow_id: str | None,
    envelope_s: float | None,
    received_ns: int,
    default_ttl_s: float,
) -> Pattern:
    ticker = symbol(fields.symbol, "bad_symbol")
    name = fields.pattern or fields.pattern_name
    if not name:
        raise MessageRejectedError("missing_pattern")
    if not _PATTERN_NAME.fullmatch(name):
        raise MessageRejectedError("bad_pattern" if fields.pattern else "bad_pattern_name", repr(name))
    if fields.timestamp is not None:
        detected_ns = epoch_ns(fields.timestamp)
    else:
        detected_ns = received_ns if envelope_s is None else epoch_ns(envelope_s)
    if fields.expires_at is not None:
        expires_ns = max(epoch_ns(fields.expires_at), detected_ns)
    else:
        expires_ns = detected_ns + max(round(default_ttl_s * NS_PER_S), 0)
    flow_id = fields.flow_id or outer_flow_id or ""
    if _ID_SAFE.fullmatch(flow_id):
        unique = flow_id
    else:
        body = raw if isinstance(raw, bytes) else raw.encode("utf-8")  # encodable: check_size saw to it
        unique = hashlib.blake2b(body, digest_size=8).hexdigest()
    indicators = fields.indicators
    return Pattern(
        pattern_id=f"{ticker}:{name}:{detected_ns}:{unique}",
        symbol=ticker,
        pattern_type=name,
        confidence=fields.confidence,
        price=fields.current_price,
        price_change_pct=fields.price_change or 0.0,
        detected_ns=detected_ns,
        expires_ns=expires_ns,
        timeframe=_timeframe(fields.tier, fields.source),
        source=PatternSource.PRODUCER,
        indicators=(
            PatternIndicators()
            if indicators is None
            else PatternIndicators(
                relative_strength=indicators.relative_strength,
                relative_volume=indicators.relative_volume,
                rsi=indicators.rsi,
            )
        ),
        flow_id=flow_id,
    )


def _pattern_payload(message: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The dict holding the pattern fields (flat, ``data`` or ``data.data``), and an enclosing flow id.

    The flow id is that of the level enclosing the fields, where the original took it from.
    """
    outer_flow_id = None
    payload = message
    for _ in range(2):
        inner = payload.get("data")
        if type(inner) is not dict:
            break
        flow_id = payload.get("flow_id")
        if type(flow_id) is str and len(flow_id) <= _MAX_FLOW_ID_CHARS:
            outer_flow_id = flow_id
        payload = inner
    return payload, outer_flow_id


def _timeframe(tier: str | None, source: str | None) -> PatternTimeframe | None:
    # The producer names the bars in `tier`, or in the payload's `source` (the envelope's `source` is the
    # producer's name, "TickStockPL", which names no timeframe). A `tier` that names none we know, with
    # no `source` that does, is rejected rather than dropped silently.
    for candidate in (tier, source):
        if candidate and (timeframe := _TIMEFRAMES.get(candidate.lower())) is not None:
            return timeframe
    if tier:
        raise MessageRejectedError("bad_tier", repr(tier[:32]))
    return None
