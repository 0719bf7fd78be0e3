"""Models: resume tokens survive a round trip through text; unknown enum values do not break a stream."""

from __future__ import annotations

import pytest

from tickstock.v1 import event_service_pb2, events_pb2
from tickstock_client import Direction, EventType, Gap, GapReason, MarketStatus, ResumeToken
from tickstock_client._proto import enum_from_proto, event_from_proto, gap_from_proto


def test_a_resume_token_round_trips_through_its_text() -> None:
    token = ResumeToken(epoch="82bf17d2f0cb0b02", seq=7292)

    assert ResumeToken.parse(str(token)) == token
    assert ResumeToken.parse(" 82bf17d2f0cb0b02:7292\n") == token


@pytest.mark.parametrize("text", ["", "7292", "epoch:", ":12", "epoch:-1", "epoch:1.5", "epoch:x"])
def test_text_that_is_no_resume_token_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a resume token"):
        ResumeToken.parse(text)


def test_an_enum_value_this_client_does_not_know_reads_as_unknown() -> None:
    assert enum_from_proto(EventType, "EVENT_TYPE_HIGH", "EVENT_TYPE_") is EventType.HIGH
    assert enum_from_proto(EventType, "EVENT_TYPE_FROM_THE_FUTURE", "EVENT_TYPE_") is EventType.UNKNOWN


def test_an_enum_number_this_client_does_not_know_reads_as_unknown() -> None:
    # A newer server's values arrive as bare numbers, without a name in this client's descriptors.
    message = events_pb2.Event(seq=1, type=42, direction=7, market_status=9)
    message.pattern.timeframe = 11  # type: ignore[assignment]

    event = event_from_proto(message, "epoch-1")

    assert (event.type, event.direction, event.market_status) == (
        EventType.UNKNOWN,
        Direction.UNKNOWN,
        MarketStatus.UNKNOWN,
    )
    assert event.details is not None and event.details.timeframe == "unknown"  # type: ignore[union-attr]


def test_an_event_carries_its_epoch_and_typed_fields() -> None:
    message = events_pb2.Event(
        seq=41, event_id="e-41", symbol="AAPL", type=events_pb2.EVENT_TYPE_LOW,
        direction=events_pb2.DIRECTION_DOWN, price=101.25, volume=300,
    )  # fmt: skip
    message.event_time.FromSeconds(1_767_623_400)
    message.high_low.session_low = 101.25

    event = event_from_proto(message, "epoch-1")

    assert (event.epoch, event.seq, event.type, event.direction) == (
        "epoch-1",
        41,
        EventType.LOW,
        Direction.DOWN,
    )
    assert event.event_time.isoformat() == "2026-01-05T14:30:00+00:00"
    assert event.resume_token == ResumeToken(epoch="epoch-1", seq=41)
    assert event.details is not None and event.details.session_low == 101.25  # type: ignore[union-attr]
    assert event.ingest_time is None


def test_a_gap_says_whether_its_missed_count_is_an_upper_bound() -> None:
    message = event_service_pb2.GapNotice(
        from_seq=31, to_seq=1000, missed_count=970, reason=event_service_pb2.GAP_REASON_NOT_PERSISTED,
        missed_count_is_upper_bound=True,
    )  # fmt: skip

    gap = gap_from_proto(message)

    assert gap == Gap(
        from_seq=31,
        to_seq=1000,
        missed_count=970,
        reason=GapReason.NOT_PERSISTED,
        missed_count_is_upper_bound=True,
    )
