"""WatchBoard: rows of the most recently active symbols, counts by type, and every notice counted."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tickstock_client import (
    Direction,
    Dropped,
    Event,
    EventType,
    Gap,
    GapReason,
    HighLowDetails,
    MarketStatus,
    PatternDetails,
    ReplayCompleted,
    ResumeToken,
    SurgeDetails,
    TrendDetails,
)
from tickstock_client._watch_board import WatchBoard, WatchRow, notice_text

MOMENT = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)
_SEQS = itertools.count(1)


def event(symbol: str, type: EventType = EventType.HIGH, **overrides: Any) -> Event:
    seq = next(_SEQS)
    fields: dict[str, Any] = {
        "epoch": "e1", "seq": seq, "event_id": f"{symbol}-{seq}", "symbol": symbol, "type": type,
        "direction": Direction.UP, "price": 100.0, "event_time": MOMENT + timedelta(seconds=seq),
        "ingest_time": None, "detect_time": None, "volume": 500, "percent_change": 0.5, "label": "",
        "market_status": MarketStatus.REGULAR, "details": None,
    }  # fmt: skip
    return Event(**{**fields, **overrides})


def test_rows_show_the_last_event_of_each_symbol_and_its_counts_by_type() -> None:
    board = WatchBoard()
    trend = TrendDetails(strength="strong", score=0.8, short_score=1, medium_score=1, long_score=1)

    board.add(event("AAPL", EventType.HIGH))
    board.add(event("AAPL", EventType.HIGH))
    board.add(event("AAPL", EventType.LOW, direction=Direction.DOWN))
    last = event("AAPL", EventType.TREND, price=101.5, volume=700, details=trend)
    board.add(last)

    assert board.rows(30) == [
        WatchRow(
            symbol="AAPL", type=EventType.TREND, direction=Direction.UP, price=101.5, volume=700, score=0.8,
            event_time=last.event_time, highs=2, lows=1, trends=1, surges=0, patterns=0,
        )
    ]  # fmt: skip


def test_rows_are_the_most_recently_active_symbols_first_and_bounded_by_the_limit() -> None:
    board = WatchBoard()
    for symbol in ("AAPL", "MSFT", "NVDA", "AAPL", "IBM"):
        board.add(event(symbol))

    assert [row.symbol for row in board.rows(3)] == ["IBM", "AAPL", "NVDA"]
    assert [row.symbol for row in board.rows(30)] == ["IBM", "AAPL", "NVDA", "MSFT"]


def test_beyond_max_symbols_the_least_recently_active_is_forgotten_with_its_counts() -> None:
    board = WatchBoard(max_symbols=2)
    board.add(event("AAPL"))
    board.add(event("MSFT"))
    board.add(event("NVDA"))
    board.add(event("AAPL"))

    assert [(row.symbol, row.highs) for row in board.rows(30)] == [("AAPL", 1), ("NVDA", 1)]
    assert board.status(connected=True, reconnects=0, resume_token=None).symbols == 2


@pytest.mark.parametrize(
    ("details", "score"),
    [
        (HighLowDetails(session_high=1, session_low=1, previous_high=1, previous_low=1,
                        significance_score=72), 72.0),
        (SurgeDetails(magnitude=3, score=85, strength="strong", trigger="volume", volume_multiplier=4,
                      baseline_price=1), 85.0),
        (PatternDetails(pattern_id="p", pattern_type="Doji", confidence=0.9, timeframe="daily", source="x",
                        expire_time=None), 0.9),
        (None, None),
    ],
)  # fmt: skip
def test_the_score_is_the_one_the_event_type_has(details: object, score: float | None) -> None:
    board = WatchBoard()

    board.add(event("AAPL", details=details))

    assert board.rows(1)[0].score == score


def test_gaps_drops_and_replays_are_counted_and_the_newest_is_the_last_notice() -> None:
    board = WatchBoard()

    gap_text = board.add(Gap(from_seq=11, to_seq=120, missed_count=110, reason=GapReason.AGED_OUT))
    board.add(Gap(from_seq=0, to_seq=0, missed_count=0, reason=GapReason.EPOCH_CHANGED))
    board.add(Dropped(dropped_count=5, first_dropped_seq=200, last_dropped_seq=204, total_dropped=5))
    replay_text = board.add(ReplayCompleted(replayed_count=40))
    status = board.status(connected=True, reconnects=1, resume_token=ResumeToken(epoch="e1", seq=240))

    assert gap_text == "gap: 110 events missed (seq 11-120, aged_out)"
    assert (status.gaps, status.missed_events, status.epoch_changes) == (2, 110, 1)
    assert (status.drops, status.dropped_events) == (1, 5)
    assert status.replayed_events == 40
    assert status.last_notice == replay_text == notice_text(ReplayCompleted(replayed_count=40))
    assert (status.events, status.symbols, status.resume_token) == (0, 0, ResumeToken(epoch="e1", seq=240))


def test_a_new_epoch_is_a_gap_of_unknown_size_said_in_words() -> None:
    text = notice_text(Gap(from_seq=0, to_seq=0, missed_count=0, reason=GapReason.EPOCH_CHANGED))

    assert text == "gap: the server's event log started a new epoch; replaying the new one from its start"


def test_an_event_is_no_notice_and_leaves_the_last_notice_alone() -> None:
    board = WatchBoard()
    board.add(Gap(from_seq=1, to_seq=2, missed_count=2, reason=GapReason.AGED_OUT))

    text = board.add(event("AAPL"))

    assert text is None
    assert board.status(connected=True, reconnects=0, resume_token=None).last_notice.startswith("gap: 2")


@pytest.mark.parametrize(
    ("connected", "reconnects", "ended", "connection"),
    [
        (False, 0, False, "connecting"),
        (True, 0, False, "live"),
        (False, 3, False, "reconnecting"),
        (True, 3, False, "live"),
        (True, 3, True, "ended"),
    ],
)
def test_the_connection_state_follows_the_stream(
    connected: bool, reconnects: int, ended: bool, connection: str
) -> None:
    status = WatchBoard().status(connected=connected, reconnects=reconnects, resume_token=None, ended=ended)

    assert (status.connection, status.reconnects) == (connection, reconnects)


def test_the_version_moves_with_every_item() -> None:
    board = WatchBoard()
    before = board.version

    board.add(event("AAPL"))
    board.add(ReplayCompleted(replayed_count=0))

    assert board.version == before + 2


def test_no_room_for_a_single_symbol_is_refused() -> None:
    with pytest.raises(ValueError, match="max_symbols"):
        WatchBoard(max_symbols=0)
