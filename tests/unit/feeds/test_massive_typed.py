"""The typed fast path yields exactly what the general path yields, or steps aside (None)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tickstock_server.feeds.massive_frames import MassiveFrameParser
from tickstock_server.feeds.massive_typed import MAX_CACHED_SYMBOLS, typed_ticks

_SAMPLE = Path(__file__).parents[2] / "data" / "massive_sample.jsonl"

_AGGREGATE = {
    "ev": "A",
    "sym": "aapl",
    "v": 10,
    "av": 100,
    "op": 150.5,
    "a": 150.25,
    "c": 151,
    "e": 1_767_711_601_000,
}
_TRADE = {"ev": "T", "sym": "MSFT", "p": 420.5, "s": 3, "t": 1_767_711_601_001, "c": [12]}
_QUOTE = {"ev": "Q", "sym": "NVDA", "bp": 180.0, "ap": 180.5, "t": 1_767_711_601_002}

# Frames the fast path takes: each must give the general path's ticks.
_TAKEN = [
    [_AGGREGATE, _TRADE, _QUOTE],
    [{**_AGGREGATE, "ev": "AM", "op": 0, "a": 0}],  # a zero day statistic is unknown (None)
    [{key: value for key, value in _AGGREGATE.items() if key not in ("op", "a", "av")}],
    [{**_AGGREGATE, "a": None, "av": 0, "c": 0.01, "v": 0}],
    [],
]
# Frames it leaves to the general path (which rejects, counts or accepts them its own way).
_DECLINED = [
    [{"ev": "status", "status": "success", "message": "subscribed"}],
    [_AGGREGATE, {"ev": "XQ", "sym": "A"}],
    [{**_AGGREGATE, "v": 5.0}],  # an integral float volume: accepted by the general path
    [{**_AGGREGATE, "v": True}],
    [{**_AGGREGATE, "c": 0}],
    [{**_AGGREGATE, "c": -1.5}],
    [{**_AGGREGATE, "a": -1.0}],
    [{**_AGGREGATE, "av": -1}],
    [{**_AGGREGATE, "sym": ""}],
    [{**_AGGREGATE, "e": 0}],
    [{**_QUOTE, "bp": 0}],
    [{key: value for key, value in _TRADE.items() if key != "p"}],
    [{**_TRADE, "p": float("nan")}],
    {"ev": "A"},
]


@pytest.mark.parametrize("events", _TAKEN)
@pytest.mark.parametrize("received_ns", [None, 42])
def test_taken_frames_give_the_general_paths_ticks(events: list[object], received_ns: int | None) -> None:
    frame = json.dumps(events)

    ticks = typed_ticks(frame, received_ns, {})

    assert ticks is not None
    assert ticks == MassiveFrameParser().parse_general(frame, received_ns)


@pytest.mark.parametrize("events", _DECLINED)
def test_other_frames_are_left_to_the_general_path(events: object) -> None:
    assert typed_ticks(json.dumps(events).encode(), None, {}) is None


def test_the_recorded_feed_gives_the_same_ticks_on_both_paths() -> None:
    taken = 0
    symbols: dict[str, str] = {}
    for frame in _SAMPLE.read_text().splitlines():
        ticks = typed_ticks(frame, None, symbols)
        if ticks is not None:
            taken += 1
            assert ticks == MassiveFrameParser().parse_general(frame, None)
    assert taken >= 290  # every frame but the status line


def test_a_repeated_symbol_is_checked_once_and_shared() -> None:
    symbols: dict[str, str] = {}
    frame = json.dumps([{**_TRADE, "sym": "msft"}, {**_TRADE, "sym": "msft"}])

    first = typed_ticks(frame, None, symbols)
    again = typed_ticks(frame, None, symbols)

    assert first is not None and again is not None
    assert symbols == {"msft": "MSFT"}
    assert {id(tick.symbol) for tick in first + again} == {id(symbols["msft"])}


def test_a_bad_symbol_is_not_cached() -> None:
    symbols: dict[str, str] = {}

    assert typed_ticks(json.dumps([{**_TRADE, "sym": "NOT A TICKER"}]), None, symbols) is None
    assert symbols == {}


def test_a_full_symbol_cache_starts_again() -> None:
    symbols = {f"s{index}": f"S{index}" for index in range(MAX_CACHED_SYMBOLS)}

    ticks = typed_ticks(json.dumps([{**_TRADE, "sym": "msft"}]), None, symbols)

    assert ticks is not None
    assert symbols == {"msft": "MSFT"}
