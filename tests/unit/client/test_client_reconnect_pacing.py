"""Reopened streams are paced: a call that ends before its first response waits out a backoff delay,
one that answered first is reopened at once (a rotation or a server shutdown)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tickstock.v1 import event_service_pb2
from tickstock_client import ResumeToken
from tickstock_client._streaming import EventStream, reopening


class _StopError(Exception):
    """Ends a test's otherwise endless reconnecting."""


class _Call:
    """A server-stream call that yields `responses` and then ends, as a proxy refusing the stream might."""

    def __init__(self, responses: list[Any]) -> None:
        self._responses = responses

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        for response in self._responses:
            yield response

    def cancel(self) -> bool:
        return True


class _Calls:
    """Opens calls with the same responses; the `limit`-th open raises `_StopError`."""

    def __init__(self, responses: list[Any], limit: int) -> None:
        self._responses = responses
        self._limit = limit
        self.opened = 0

    def __call__(self, *request: object) -> _Call:
        self.opened += 1
        if self.opened >= self._limit:
            raise _StopError
        return _Call(self._responses)


class _Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay_s: float) -> None:
        self.delays.append(delay_s)


_ANSWER = event_service_pb2.StreamEventsResponse(
    subscription_status=event_service_pb2.SubscriptionStatus(
        start=event_service_pb2.ResumeToken(epoch="e1", seq=7)
    )
)


async def test_a_generic_stream_ending_before_any_response_waits_before_each_reopening() -> None:
    # Arrange
    calls, sleeps = _Calls([], limit=4), _Sleeps()

    # Act
    with pytest.raises(_StopError):
        await anext(reopening(calls, stall=None, what="test stream", sleep=sleeps))

    # Assert: three empty calls, three waits
    assert (calls.opened, len(sleeps.delays)) == (4, 3)


async def test_a_generic_stream_that_answered_is_reopened_at_once() -> None:
    # Arrange
    calls, sleeps = _Calls(["a"], limit=4), _Sleeps()
    stream = reopening(calls, stall=None, what="test stream", sleep=sleeps)

    # Act
    received = [await anext(stream) for _ in range(3)]

    # Assert
    assert (received, sleeps.delays) == (["a", "a", "a"], [])
    await stream.aclose()


async def test_an_event_stream_ending_before_its_status_waits_before_each_reconnect() -> None:
    # Arrange
    calls, sleeps = _Calls([], limit=4), _Sleeps()
    stream = EventStream(calls, sleep=sleeps)

    # Act
    with pytest.raises(_StopError):
        async for _ in stream:
            pass

    # Assert
    assert (calls.opened, len(sleeps.delays), stream.reconnects) == (4, 3, 3)


async def test_an_event_stream_that_answered_is_resumed_at_once() -> None:
    # Arrange
    calls, sleeps = _Calls([_ANSWER], limit=4), _Sleeps()
    stream = EventStream(calls, sleep=sleeps)

    # Act
    with pytest.raises(_StopError):
        async for _ in stream:
            pass

    # Assert: each call answered, then ended (a rotation): no waiting, and the stream kept its start
    assert (calls.opened, sleeps.delays, stream.resume_token) == (4, [], ResumeToken(epoch="e1", seq=7))
