"""Fuzzing every producer-message parser: nothing but a value or MessageRejectedError."""

import copy
import json
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from producer_messages import (
    ACCEPTED_SHAPES,
    DOUBLY_NESTED,
    FLAT,
    PROGRESS,
    PUBLISHED_S,
    RECEIVED_NS,
    RESULTS,
    encode,
    envelope,
)

from tickstock_server.domain.backtests import OutcomeReport
from tickstock_server.domain.patterns import Pattern
from tickstock_server.producer.events import (
    BacktestProgress,
    PatternExpiry,
    ProducerHealth,
)
from tickstock_server.producer.messages import (
    REJECT_REASONS,
    MessageRejectedError,
    _read_fast,
    _read_general,
    parse_backtest_outcome,
    parse_backtest_progress,
    parse_pattern_message,
    parse_producer_health,
)

# --- fuzz: nothing but a value or MessageRejectedError ----------------------------------------------------

PARSERS: dict[str, tuple[Callable[..., object], tuple[type, ...], list[dict[str, Any]]]] = {
    "patterns": (
        parse_pattern_message,
        (Pattern, PatternExpiry),
        [envelope(), FLAT, DOUBLY_NESTED, envelope("pattern_expired")],
    ),
    "progress": (parse_backtest_progress, (BacktestProgress,), [PROGRESS, {"data": PROGRESS}]),
    "results": (
        parse_backtest_outcome,
        (OutcomeReport,),
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
