"""Producer pattern messages: accepted shapes, one rejection reason each, field semantics."""

import json
from typing import Any

import pytest
from producer_messages import (
    _DROP,
    ACCEPTED_SHAPES,
    DETECTED_NS,
    DETECTED_S,
    EXPECTED,
    FLAT,
    FLOW_ID,
    HOUR_NS,
    RECEIVED_NS,
    encode,
    envelope,
    parse,
    pattern_data,
    reason_of,
)

from tickstock_server.domain.patterns import Pattern, PatternIndicators, PatternTimeframe
from tickstock_server.producer.events import (
    PatternExpiry,
)
from tickstock_server.producer.messages import (
    DEFAULT_MAX_MESSAGE_BYTES,
    REJECT_REASONS,
    MessageRejectedError,
    parse_pattern_message,
)

# --- pattern shapes the contract accepts --------------------------------------------------------------------


@pytest.mark.parametrize("message", ACCEPTED_SHAPES)
def test_accepted_shape_returns_the_contract_pattern(message: dict[str, Any]) -> None:
    # Act
    pattern = parse(encode(message))

    # Assert
    assert pattern == EXPECTED


def test_str_message_parses_like_bytes() -> None:
    assert parse(json.dumps(envelope())) == EXPECTED


def test_pattern_expired_returns_expiry_not_error() -> None:
    assert parse(encode(envelope("pattern_expired"))) == PatternExpiry()


# --- rejections, one reason each ----------------------------------------------------------------------------

_VALID = json.dumps(envelope())

REJECTED = [
    pytest.param(b'{"event_type": "pattern_detected", "data": {', "not_json", id="truncated_json"),
    pytest.param(b"not json at all", "not_json", id="text"),
    pytest.param(b"\xff\xfe\x00garbage", "not_json", id="invalid_utf8"),
    pytest.param(b"[" * 60_000, "not_json", id="nested_too_deep"),
    pytest.param(b"1" * 5_000, "not_json", id="integer_over_4300_digits"),
    pytest.param(b"[1, 2]", "not_object", id="array"),
    pytest.param(b'"pattern"', "not_object", id="string"),
    pytest.param(b"null", "not_object", id="null"),
    pytest.param(
        _VALID.replace('"Weekly_Breakout"', '"' + "x" * 70_000 + '"').encode(), "oversized", id="oversized"
    ),
    pytest.param(encode(envelope(confidence="high")), "bad_confidence", id="confidence_string"),
    pytest.param(encode(envelope(confidence=85)), "bad_confidence", id="confidence_percent_scale"),
    pytest.param(encode(envelope(confidence=-0.1)), "bad_confidence", id="confidence_negative"),
    pytest.param(encode(envelope(confidence=True)), "bad_confidence", id="confidence_bool"),
    pytest.param(
        _VALID.replace("0.85", "1e400").encode(), "bad_confidence", id="confidence_overflows_to_inf"
    ),
    pytest.param(_VALID.replace("0.85", "NaN").encode(), "non_finite_number", id="confidence_nan"),
    pytest.param(_VALID.replace("150.25", "Infinity").encode(), "non_finite_number", id="price_infinity"),
    pytest.param(encode(envelope(symbol=123)), "bad_symbol", id="symbol_number"),
    pytest.param(encode(envelope(symbol="AAPL$")), "bad_symbol", id="symbol_bad_character"),
    pytest.param(encode(envelope(symbol="")), "bad_symbol", id="symbol_empty"),
    pytest.param(encode(envelope(symbol="A" * 40)), "bad_symbol", id="symbol_too_long"),
    pytest.param(encode(envelope(indicators=[1.4, 2.1])), "bad_indicators", id="indicators_list"),
    pytest.param(encode(envelope(indicators={"rsi": "high"})), "bad_indicators", id="indicator_string"),
    pytest.param(encode(envelope(indicators={"rsi": 150})), "bad_indicators", id="rsi_over_100"),
    pytest.param(encode(envelope(symbol=_DROP)), "missing_symbol", id="missing_symbol"),
    pytest.param(encode(envelope(confidence=_DROP)), "missing_confidence", id="missing_confidence"),
    pytest.param(encode(envelope(pattern=_DROP)), "missing_pattern", id="missing_pattern"),
    pytest.param(encode(envelope(pattern="")), "missing_pattern", id="empty_pattern"),
    pytest.param(encode(envelope(pattern="Bull:Flag")), "bad_pattern", id="pattern_with_colon"),
    pytest.param(encode(envelope(pattern=["Doji"])), "bad_pattern", id="pattern_list"),
    pytest.param(
        encode(envelope(pattern=_DROP, pattern_name=7)), "bad_pattern_name", id="pattern_name_number"
    ),
    pytest.param(encode(envelope(timestamp=DETECTED_S * 1000)), "bad_timestamp", id="timestamp_in_ms"),
    pytest.param(encode(envelope(timestamp="2026-01-06")), "bad_timestamp", id="timestamp_string"),
    pytest.param(encode(envelope(expires_at="soon")), "bad_expires_at", id="expires_at_string"),
    pytest.param(encode(envelope(current_price=0)), "bad_current_price", id="price_zero"),
    pytest.param(encode(envelope(price_change="2.3%")), "bad_price_change", id="price_change_string"),
    pytest.param(encode(envelope(volume=-5)), "bad_volume", id="volume_negative"),
    pytest.param(encode(envelope(flow_id=5)), "bad_flow_id", id="flow_id_number"),
    pytest.param(encode(envelope(tier=1)), "bad_tier", id="tier_number"),
    pytest.param(encode(envelope(tier="weekly")), "bad_tier", id="tier_unknown"),
    pytest.param(encode(envelope("pattern_deleted")), "unknown_event_type", id="unknown_event_type"),
    pytest.param(encode({**envelope(), "event_type": 5}), "bad_event_type", id="event_type_number"),
    pytest.param(encode({**envelope(), "event_type": ["x"]}), "bad_event_type", id="event_type_list"),
    pytest.param(
        encode({"event_type": "pattern_detected", "timestamp": "now", "data": pattern_data(timestamp=_DROP)}),
        "bad_timestamp",
        id="envelope_timestamp_string_used_as_detection_time",
    ),
]


@pytest.mark.parametrize(("raw", "reason"), REJECTED)
def test_invalid_pattern_message_is_rejected_with_reason(raw: bytes, reason: str) -> None:
    assert reason_of(parse_pattern_message, raw) == reason
    assert reason in REJECT_REASONS


def test_lone_surrogate_escape_is_rejected_but_a_pair_is_text() -> None:
    lone = _VALID.replace(FLOW_ID, "\\ud800").encode()
    pair = _VALID.replace(FLOW_ID, "\\ud83d\\ude00").encode()  # an escaped emoji

    assert reason_of(parse_pattern_message, lone) == "bad_unicode"
    pattern = parse(pair)
    assert isinstance(pattern, Pattern)
    assert pattern.flow_id == "\U0001f600"
    assert not pattern.pattern_id.endswith(pattern.flow_id)  # not id-safe: the digest stands in


def test_str_with_lone_surrogate_is_rejected() -> None:
    assert reason_of(parse_pattern_message, _VALID.replace(FLOW_ID, "\udc80")) == "bad_unicode"


def test_words_nan_and_infinity_inside_strings_are_text() -> None:
    pattern = parse(encode(envelope(flow_id="NaN-Infinity")))

    assert isinstance(pattern, Pattern)
    assert pattern.flow_id == "NaN-Infinity"


def test_message_at_max_bytes_is_parsed_one_byte_more_is_oversized() -> None:
    # Arrange: pad an unknown field so the message is exactly the limit.
    base = envelope()
    base["padding"] = ""
    padding = DEFAULT_MAX_MESSAGE_BYTES - len(encode(base))
    base["padding"] = "x" * padding
    raw = encode(base)

    # Act / Assert
    assert len(raw) == DEFAULT_MAX_MESSAGE_BYTES
    assert parse(raw) == EXPECTED
    assert reason_of(parse_pattern_message, raw + b" ") == "oversized"


def test_max_bytes_parameter_sets_the_limit() -> None:
    with pytest.raises(MessageRejectedError, match="oversized"):
        parse(encode(envelope()), max_bytes=100)


def test_oversized_str_is_measured_in_utf8_bytes() -> None:
    # 30,000 three-byte characters: 30,000 characters but 90,000 bytes.
    message = json.dumps(envelope(pattern="€" * 30_000), ensure_ascii=False)
    assert reason_of(parse_pattern_message, message) == "oversized"


# --- pattern field semantics --------------------------------------------------------------------------------


def test_missing_expires_at_expires_after_default_ttl() -> None:
    pattern = parse(encode(envelope(expires_at=_DROP)))

    assert isinstance(pattern, Pattern)
    assert pattern.expires_ns == DETECTED_NS + HOUR_NS


def test_default_ttl_parameter_sets_lifetime() -> None:
    pattern = parse(encode(envelope(expires_at=_DROP)), default_ttl_s=60.0)

    assert isinstance(pattern, Pattern)
    assert pattern.expires_ns == DETECTED_NS + 60 * 1_000_000_000


def test_expires_at_before_detection_is_clamped_to_detection() -> None:
    pattern = parse(encode(envelope(expires_at=DETECTED_S - 10)))

    assert isinstance(pattern, Pattern)
    assert pattern.expires_ns == DETECTED_NS


def test_payload_without_timestamp_uses_envelope_timestamp() -> None:
    pattern = parse(encode(envelope(timestamp=_DROP)))

    assert isinstance(pattern, Pattern)
    assert pattern.detected_ns == 1_767_700_001_500_000_000


def test_message_without_any_timestamp_uses_receive_time() -> None:
    pattern = parse(encode({key: v for key, v in FLAT.items() if key not in ("timestamp", "expires_at")}))

    assert isinstance(pattern, Pattern)
    assert pattern.detected_ns == RECEIVED_NS
    assert pattern.expires_ns == RECEIVED_NS + HOUR_NS


@pytest.mark.parametrize(
    ("fields", "timeframe"),
    [
        ({"tier": "intraday"}, PatternTimeframe.INTRADAY),
        ({"tier": _DROP, "source": "combo"}, PatternTimeframe.COMBO),
        ({"tier": "Daily"}, PatternTimeframe.DAILY),
        ({"tier": "weekly", "source": "intraday"}, PatternTimeframe.INTRADAY),
        ({"tier": _DROP}, None),
    ],
)
def test_tier_or_source_sets_timeframe(fields: dict[str, Any], timeframe: PatternTimeframe | None) -> None:
    pattern = parse(encode(envelope(**fields)))

    assert isinstance(pattern, Pattern)
    assert pattern.timeframe is timeframe


def test_optional_fields_absent_give_defaults() -> None:
    minimal = {"symbol": "MSFT", "pattern": "Doji", "confidence": 0.6, "timestamp": DETECTED_S}

    pattern = parse(encode({"event_type": "pattern_detected", "data": minimal}))

    assert isinstance(pattern, Pattern)
    assert (pattern.price, pattern.price_change_pct, pattern.timeframe) == (None, 0.0, None)
    assert pattern.indicators == PatternIndicators()
    assert pattern.flow_id == ""


def test_without_flow_id_id_is_a_digest_of_the_message() -> None:
    # Arrange: two detections of one symbol and pattern in the same second (the original's collision).
    first = encode(envelope(flow_id=_DROP, timestamp=1_767_700_000.0, confidence=0.7))
    second = encode(envelope(flow_id=_DROP, timestamp=1_767_700_000.0, confidence=0.8))

    # Act
    ids = [p.pattern_id for p in (parse(first), parse(second), parse(first)) if isinstance(p, Pattern)]

    # Assert
    assert ids[0] != ids[1]
    assert ids[0] == ids[2]  # the same message (say, from two replicas) maps to the same id
    prefix, digest = ids[0].rsplit(":", 1)
    assert prefix == "AAPL:Weekly_Breakout:1767700000000000000"
    assert len(digest) == 16 and int(digest, 16) >= 0


def test_flow_id_unsafe_for_ids_is_kept_but_replaced_by_digest_in_id() -> None:
    pattern = parse(encode(envelope(flow_id="flow:with:colons")))

    assert isinstance(pattern, Pattern)
    assert pattern.flow_id == "flow:with:colons"
    assert pattern.pattern_id.count(":") == 3
