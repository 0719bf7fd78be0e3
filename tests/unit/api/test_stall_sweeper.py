"""StallSweeper: which streams it ends, with what status, and that it runs only while streams are open."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import grpc
import pytest
from polling import eventually

from tickstock_server.api.interceptors import Context
from tickstock_server.api.stall_sweeper import StallSweeper
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import DeliveryOptions, SlowConsumerPolicy, SubscriptionHub
from tickstock_server.delivery.stall_guard import StallGuard


class _Call:
    """The part of a servicer context the sweeper uses: whether the call is over, and its final status."""

    def __init__(self) -> None:
        self.statuses: list[Any] = []

    def done(self) -> bool:
        return bool(self.statuses)

    async def abort_with_status(self, status: Any) -> None:
        self.statuses.append(status)
        raise grpc.aio.AbortError()


def _guard(hub: SubscriptionHub, user: str, timeout_s: float) -> StallGuard:
    options = DeliveryOptions(
        max_batch_size=100,
        max_batch_latency_s=0.0,
        heartbeat_interval_s=1.0,
        slow_consumer_policy=SlowConsumerPolicy.DISCONNECT,
    )
    guard = StallGuard(timeout_s)
    guard.watch(hub.subscribe(user, EventFilter(), options))
    return guard


async def _stream(sweeper: StallSweeper, guard: StallGuard, call: _Call, *, taken: bool) -> None:
    """A handler that writes one message, which its client takes or not, then waits."""
    with sweeper.watching(guard, cast(Context, call)):
        guard.writing()
        if taken:
            guard.written()
        await asyncio.Event().wait()


async def test_a_sweep_ends_only_the_stalled_stream_with_slow_consumer() -> None:
    hub = SubscriptionHub(max_streams_per_user=2, queue_capacity=10)
    sweeper = StallSweeper(interval_s=3600)
    stalled_call, reading_call = _Call(), _Call()
    stalled = asyncio.create_task(_stream(sweeper, _guard(hub, "alice", 0.01), stalled_call, taken=False))
    reading = asyncio.create_task(_stream(sweeper, _guard(hub, "bob", 0.01), reading_call, taken=True))
    await asyncio.sleep(0.02)  # past the stalled write's deadline

    ended = sweeper.sweep()
    await eventually(lambda: stalled.done() and stalled_call.done(), timeout_s=5)

    assert ended == 1
    assert stalled.cancelled()
    assert not reading.done()
    [status] = stalled_call.statuses
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "did not read the stream for 0.01 s" in status.details
    assert reading_call.statuses == []
    assert sweeper.ended_total == 1
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading


async def test_the_sweeper_runs_by_itself_while_streams_are_open() -> None:
    hub = SubscriptionHub(max_streams_per_user=1, queue_capacity=10)
    sweeper = StallSweeper(interval_s=0.01)
    call = _Call()

    stream = asyncio.create_task(_stream(sweeper, _guard(hub, "alice", 0.05), call, taken=False))
    await eventually(lambda: stream.done() and call.done(), timeout_s=5)
    await asyncio.sleep(0.05)  # the ended stream unregistered: the sweeper's task stops

    assert stream.cancelled()
    assert len(call.statuses) == 1
    assert not [task for task in asyncio.all_tasks() if task.get_name() == "stall-sweeper"]
