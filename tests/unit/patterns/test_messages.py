"""Every TickStockPL message shape, each reject reason, and a seeded fuzz of 10,000 messages per channel."""

import copy
import json
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickstock_server.domain.patterns import Pattern, PatternIndicators, PatternSource, PatternTimeframe
from tickstock_server.patterns.messages import (
    DEFAULT_MAX_MESSAGE_BYTES,
    REJECT_REASONS,
    MessageRejectedError,
    _read_fast,
    _read_general,
    parse_backtest_outcome,
    parse_backtest_progress,
    parse_pattern_message,
    parse_producer_health,
)
from tickstock_server.patterns.producer_events import (
    BacktestOutcome,
    BacktestProgress,
    BacktestStatus,
    PatternExpiry,
    ProducerHealth,
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


# --- pattern shapes the contract accepts --------------------------------------------------------------------

_FLAT = {"event_type": "pattern_detected", "source": "TickStockPL", **pattern_data()}
_DOUBLY_NESTED = {
    "event_type": "pattern_detected",
    "source": "TickStockPL",
    "timestamp": PUBLISHED_S,
    # The flow id sits on the middle level, the pattern one level deeper (as the original found them).
    "data": {"flow_id": FLOW_ID, "data": pattern_data(flow_id=_DROP)},
}

ACCEPTED_SHAPES = [
    pytest.param(envelope(), id="envelope"),
    pytest.param(envelope(pattern=_DROP, pattern_name="Weekly_Breakout"), id="legacy_pattern_name"),
    pytest.param(_FLAT, id="flat"),
    pytest.param({key: v for key, v in _FLAT.items() if key != "event_type"}, id="flat_without_event_type"),
    pytest.param(_DOUBLY_NESTED, id="doubly_nested"),
    pytest.param(envelope("pattern_updated"), id="pattern_updated"),
    pytest.param(envelope(symbol="aapl"), id="lower_case_symbol"),
]


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
    pattern = parse(encode({key: v for key, v in _FLAT.items() if key not in ("timestamp", "expires_at")}))

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


# --- backtest progress --------------------------------------------------------------------------------------

PROGRESS = {"job_id": "backtest_1767700000_1a2b3c4d", "progress": 0.45, "current_symbol": "msft",
            "estimated_completion": 1_767_700_120.0}  # fmt: skip


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(PROGRESS, id="flat"),
        pytest.param(
            {"event_type": "backtest_progress", "timestamp": PUBLISHED_S, "data": PROGRESS}, id="envelope"
        ),
    ],
)
def test_backtest_progress_shapes_parse(message: dict[str, Any]) -> None:
    assert parse_backtest_progress(encode(message), received_ns=RECEIVED_NS) == BacktestProgress(
        job_id="backtest_1767700000_1a2b3c4d",
        progress=0.45,
        current_symbol="MSFT",
        estimated_completion_ns=1_767_700_120_000_000_000,
        received_ns=RECEIVED_NS,
    )


def test_backtest_progress_iso_completion_is_utc_and_optional_fields_may_be_absent() -> None:
    iso = parse_backtest_progress(
        encode({**PROGRESS, "estimated_completion": "2026-01-06T11:48:40"}), received_ns=RECEIVED_NS
    )
    bare = parse_backtest_progress(encode({"job_id": "j1", "progress": 1}), received_ns=RECEIVED_NS)

    assert iso.estimated_completion_ns == 1_767_700_120_000_000_000
    assert (bare.progress, bare.current_symbol, bare.estimated_completion_ns) == (1.0, None, None)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"progress": 45}, "bad_progress"),  # a percentage is not silently rescaled
        ({"progress": "45%"}, "bad_progress"),
        ({"progress": -0.1}, "bad_progress"),
        ({"job_id": ""}, "bad_job_id"),
        ({"job_id": 17}, "bad_job_id"),
        ({"job_id": _DROP}, "missing_job_id"),
        ({"progress": _DROP}, "missing_progress"),
        ({"current_symbol": "bad symbol"}, "bad_current_symbol"),
        ({"estimated_completion": "soon"}, "bad_estimated_completion"),
        ({"estimated_completion": 120}, "bad_estimated_completion"),  # seconds left, not a time
    ],
)
def test_invalid_backtest_progress_is_rejected(overrides: dict[str, Any], reason: str) -> None:
    message = {key: value for key, value in {**PROGRESS, **overrides}.items() if value is not _DROP}

    assert reason_of(parse_backtest_progress, encode(message)) == reason


# --- backtest results ---------------------------------------------------------------------------------------

RESULTS = {"total_return": 0.124, "win_rate": 0.58, "total_trades": 42, "sharpe_ratio": 1.35,
           "max_drawdown": -0.08, "equity_curve": [100_000, 101_200], "by_pattern": {"Doji": 12}}  # fmt: skip


def test_completed_backtest_result_keeps_metrics_and_every_other_result() -> None:
    outcome = parse_backtest_outcome(
        encode({"job_id": "j1", "status": "completed", "results": RESULTS}), received_ns=RECEIVED_NS
    )

    assert outcome == BacktestOutcome(
        job_id="j1",
        status=BacktestStatus.COMPLETED,
        status_text="completed",
        total_return=0.124,
        win_rate=0.58,
        total_trades=42,
        sharpe_ratio=1.35,
        max_drawdown=-0.08,
        error=None,
        results=RESULTS,
        received_ns=RECEIVED_NS,
    )
    with pytest.raises(TypeError):
        outcome.results["total_return"] = 1.0  # type: ignore[index]


@pytest.mark.parametrize(
    ("message", "status", "error"),
    [
        ({"job_id": "j1", "results": {}}, BacktestStatus.COMPLETED, None),  # the original's default
        ({"job_id": "j1", "status": "failed", "error": "no data"}, BacktestStatus.FAILED, "no data"),
        (
            {"job_id": "j1", "status": "failed", "results": {"error": "timeout"}},
            BacktestStatus.FAILED,
            "timeout",
        ),
        ({"job_id": "j1", "status": "cancelled"}, BacktestStatus.CANCELLED, None),
        ({"job_id": "j1", "status": "Canceled"}, BacktestStatus.CANCELLED, None),
        ({"job_id": "j1", "status": "timeout"}, BacktestStatus.FAILED, None),
        ({"data": {"job_id": "j1", "status": "completed"}}, BacktestStatus.COMPLETED, None),
    ],
)
def test_backtest_result_status_maps_to_outcome(
    message: dict[str, Any], status: BacktestStatus, error: str | None
) -> None:
    outcome = parse_backtest_outcome(encode(message), received_ns=RECEIVED_NS)

    assert (outcome.job_id, outcome.status, outcome.error) == ("j1", status, error)


def test_integral_float_trade_count_is_a_count() -> None:
    outcome = parse_backtest_outcome(
        encode({"job_id": "j1", "results": {"total_trades": 42.0}}), received_ns=RECEIVED_NS
    )

    assert outcome.total_trades == 42 and type(outcome.total_trades) is int


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"job_id": "j1", "results": [1, 2]}, "bad_results"),
        ({"job_id": "j1", "results": {"total_trades": 4.5}}, "bad_total_trades"),
        ({"job_id": "j1", "results": {"win_rate": "58%"}}, "bad_win_rate"),
        ({"job_id": "j1", "status": 1}, "bad_status"),
        ({"status": "completed"}, "missing_job_id"),
    ],
)
def test_invalid_backtest_result_is_rejected(message: dict[str, Any], reason: str) -> None:
    assert reason_of(parse_backtest_outcome, encode(message)) == reason


# --- producer health ----------------------------------------------------------------------------------------


def test_health_envelope_parses() -> None:
    message = {"event_type": "system_health", "source": "TickStockPL", "timestamp": PUBLISHED_S,
               "data": {"status": "healthy", "patterns_per_min": 42}}  # fmt: skip

    health = parse_producer_health(encode(message), received_ns=RECEIVED_NS)

    assert health == ProducerHealth(
        source="TickStockPL",
        status="healthy",
        reported_ns=1_767_700_001_500_000_000,
        details={"status": "healthy", "patterns_per_min": 42},
        received_ns=RECEIVED_NS,
    )


def test_flat_health_without_timestamp_uses_details_and_receive_time() -> None:
    health = parse_producer_health(encode({"status": "degraded", "lag_s": 3}), received_ns=RECEIVED_NS)

    assert (health.source, health.status, health.reported_ns) == ("", "degraded", RECEIVED_NS)
    assert health.details == {"status": "degraded", "lag_s": 3}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"event_type": "pattern_detected", "data": {}}, "unknown_event_type"),
        ({"event_type": "system_health", "data": [1]}, "bad_data"),
        ({"event_type": "system_health", "source": 5}, "bad_source"),
        ({"event_type": "system_health", "timestamp": "now"}, "bad_timestamp"),
    ],
)
def test_invalid_health_is_rejected(message: dict[str, Any], reason: str) -> None:
    assert reason_of(parse_producer_health, encode(message)) == reason


# --- fuzz: nothing but a value or MessageRejectedError ----------------------------------------------------

PARSERS: dict[str, tuple[Callable[..., object], tuple[type, ...], list[dict[str, Any]]]] = {
    "patterns": (
        parse_pattern_message,
        (Pattern, PatternExpiry),
        [envelope(), _FLAT, _DOUBLY_NESTED, envelope("pattern_expired")],
    ),
    "progress": (parse_backtest_progress, (BacktestProgress,), [PROGRESS, {"data": PROGRESS}]),
    "results": (
        parse_backtest_outcome,
        (BacktestOutcome,),
        [{"job_id": "j1", "status": "completed", "results": RESULTS}],
    ),
    "health": (
        parse_producer_health,
        (ProducerHealth,),
        [{"event_type": "system_health", "source": "PL", "timestamp": PUBLISHED_S, "data": {"status": "ok"}}],
    ),
}

_ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, -1e308, 1e308, 10**30, "", "x", "NaN", "2026-01-06", "€" * 40,
    [], [1, "a"], {}, {"a": {"b": [None]}}, "A" * 200, 0.999999, 100,
]  # fmt: skip


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _paths(child, (*prefix, index))
    return paths


def _mutate(rng: random.Random, valid: dict[str, Any]) -> bytes:
    """One randomly malformed (or occasionally still valid) variant of `valid`."""
    strategy = rng.randrange(7)
    raw = json.dumps(valid).encode()
    if strategy == 0:  # random bytes
        return rng.randbytes(rng.randrange(0, 300))
    if strategy == 1:  # truncated JSON
        return raw[: rng.randrange(0, len(raw))]
    if strategy == 2:  # flipped bytes
        mutable = bytearray(raw)
        for _ in range(rng.randrange(1, 6)):
            mutable[rng.randrange(len(mutable))] = rng.randrange(256)
        return bytes(mutable)
    if strategy == 3:  # a random JSON value instead of an object
        return json.dumps(rng.choice(_ODD_VALUES)).encode()
    message = copy.deepcopy(valid)
    path = rng.choice(_paths(message))
    parent = message
    for step in path[:-1]:
        parent = parent[step]
    if strategy == 4:  # type swap
        parent[path[-1]] = rng.choice(_ODD_VALUES)
    elif strategy == 5 and isinstance(parent, dict):  # field removed
        del parent[path[-1]]
    else:  # deeply nested junk in place of a value
        parent[path[-1]] = json.loads("[" * 50 + "]" * 50)
    return json.dumps(message).encode()


def outcome_of(channel: str, raw: bytes) -> str:
    """ "parsed:<type>" or the reject reason; any other exception propagates and fails the test."""
    parser = PARSERS[channel][0]
    try:
        return f"parsed:{type(parser(raw, received_ns=RECEIVED_NS)).__name__}"
    except MessageRejectedError as exc:
        return exc.reason


def allowed_outcomes(channel: str) -> frozenset[str]:
    return REJECT_REASONS | {f"parsed:{kind.__name__}" for kind in PARSERS[channel][1]}


@pytest.mark.parametrize("channel", sorted(PARSERS))
def test_random_malformed_messages_give_value_or_known_reason(channel: str) -> None:
    # Arrange
    valid_messages = PARSERS[channel][2]
    rng = random.Random(f"fuzz-{channel}")  # seeded: a failure reproduces

    # Act: 10,000 per channel.
    outcomes = Counter(outcome_of(channel, _mutate(rng, rng.choice(valid_messages))) for _ in range(10_000))

    # Assert: only values and known reasons; both occur and many reasons show, so the fuzz is not vacuous.
    assert set(outcomes) <= allowed_outcomes(channel)
    parsed = sum(count for outcome, count in outcomes.items() if outcome.startswith("parsed:"))
    assert parsed > 0
    assert 10_000 - parsed > 5_000
    assert len(outcomes) >= 6


def test_fast_path_reads_every_message_it_accepts_like_the_general_path() -> None:
    # Arrange: valid envelopes and their mutations, of which the fast path accepts some.
    rng = random.Random("fast-vs-general")
    messages = [_mutate(rng, envelope()) for _ in range(3_000)] + [
        encode(m.values[0]) for m in ACCEPTED_SHAPES
    ]

    # Act
    pairs = [(fast, _read_general(raw)) for raw in messages if (fast := _read_fast(raw)) is not None]

    # Assert: the same field values (the fast path's model is a subclass), flow id and envelope time.
    assert len(pairs) > 100
    assert [comparable(fast) for fast, _ in pairs] == [comparable(general) for _, general in pairs]


def comparable(read: Any) -> Any:
    fields, outer_flow_id, envelope_s = read
    return fields.model_dump(exclude={"data"}), outer_flow_id, envelope_s


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_KEYS = st.sampled_from(
    ["event_type", "data", "symbol", "pattern", "pattern_name", "confidence", "timestamp", "expires_at",
     "indicators", "job_id", "progress", "status", "results", "tier"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(message=st.dictionaries(_KEYS, _JSON, max_size=8), channel=st.sampled_from(sorted(PARSERS)))
def test_arbitrary_json_objects_give_value_or_known_reason(message: dict[str, Any], channel: str) -> None:
    assert outcome_of(channel, json.dumps(message).encode()) in allowed_outcomes(channel)
