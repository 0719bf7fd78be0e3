"""Batch framing around pre-encoded events equals what the generated code serialises."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tickstock.v1 import event_service_pb2, events_pb2
from tickstock_server.api.wire import event_batch_response, resume_token


def _event(seq: int, symbol: str) -> events_pb2.Event:
    return events_pb2.Event(seq=seq, symbol=symbol, price=1.5 * seq, label="x" * (seq % 300))


@given(st.lists(st.tuples(st.integers(1, 2**40), st.text(min_size=1, max_size=20)), max_size=50))
def test_framed_batch_is_byte_identical_to_generated_serialisation(items: list[tuple[int, str]]) -> None:
    events = [_event(seq, symbol) for seq, symbol in items]
    token = event_service_pb2.ResumeToken(epoch="e1", seq=items[-1][0] if items else 0)
    expected = event_service_pb2.StreamEventsResponse(
        event_batch=event_service_pb2.EventBatch(events=events, resume_token=token)
    ).SerializeToString()

    framed = event_batch_response([e.SerializeToString() for e in events], token.SerializeToString())

    assert framed == expected


def test_framed_batch_parses_back_to_the_events() -> None:
    events = [_event(i, f"S{i}") for i in range(1, 4)]
    token = event_service_pb2.ResumeToken(epoch="e1", seq=3)

    parsed = event_service_pb2.StreamEventsResponse.FromString(
        event_batch_response([e.SerializeToString() for e in events], token.SerializeToString())
    )

    assert list(parsed.event_batch.events) == events
    assert parsed.event_batch.resume_token == token


@given(st.text(max_size=40), st.integers(0, 2**64 - 1))
def test_resume_token_is_byte_identical_to_generated_serialisation(epoch: str, seq: int) -> None:
    expected = event_service_pb2.ResumeToken(epoch=epoch, seq=seq).SerializeToString()

    assert resume_token(epoch, seq) == expected


def test_large_events_get_multi_byte_lengths() -> None:
    events = [_event(1, "A" * 20_000), _event(2, "B" * 200)]
    token = event_service_pb2.ResumeToken(epoch="e" * 300, seq=2**40)
    expected = event_service_pb2.StreamEventsResponse(
        event_batch=event_service_pb2.EventBatch(events=events, resume_token=token)
    ).SerializeToString()

    framed = event_batch_response([e.SerializeToString() for e in events], token.SerializeToString())

    assert framed == expected
