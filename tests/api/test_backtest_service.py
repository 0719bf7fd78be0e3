"""BacktestService in process over the memory store and publisher: every RPC, isolation, error statuses.

The test plays the producer through `BacktestJobs`. The same service over PostgreSQL and Redis is
tests/integration/test_backtest_service_process.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from api_server import ServerFactory
from backtest_api import MAX_WATCHERS, NOW_NS, Harness, Metadata, Stub, running_backtests
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tickstock.v1 import backtest_service_pb2 as pb
from tickstock.v1 import common_pb2
from tickstock_server.api.mappers._common import encode_page_token, request_binding
from tickstock_server.domain.backtests import BacktestOutcome, BacktestResult, BacktestState


@pytest.fixture
async def harness(start_api_server: ServerFactory) -> AsyncIterator[Harness]:
    async with running_backtests(start_api_server) as harness:
        yield harness


def _date(year: int, month: int, day: int) -> common_pb2.Date:
    return common_pb2.Date(year=year, month=month, day=day)


def _request(**changes: Any) -> pb.SubmitBacktestRequest:
    """A valid request (dates before the jobs' clock) with `changes`; None clears a field."""
    request = pb.SubmitBacktestRequest(
        symbols=["aapl", "MSFT"],
        start_date=_date(2025, 1, 2),
        end_date=_date(2025, 12, 31),
        patterns=["Bull_Flag"],
        parameters=pb.BacktestParameters(initial_capital=50_000, stop_loss_pct=0.02),
    )
    for name, value in changes.items():
        request.ClearField(name)
        if isinstance(value, list):
            getattr(request, name).extend(value)
        elif value is not None:
            getattr(request, name).CopyFrom(value)
    return request


async def _submit(h: Harness, metadata: Metadata | None = None) -> pb.Backtest:
    response = await h.stub.SubmitBacktest(_request(), metadata=metadata or h.alice)
    return response.backtest


async def _complete(h: Harness, backtest_id: str) -> None:
    h.jobs.apply_outcome(backtest_id, BacktestOutcome(state=BacktestState.COMPLETED, result=BacktestResult()))
    await h.jobs.flush()


def _violations(error: grpc.aio.AioRpcError) -> set[str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    fields: set[str] = set()
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields |= {violation.field for violation in bad_request.field_violations}
    return fields


def _old_style_token(payload: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


_ALICE_DIGEST = hashlib.sha256(b"alice").hexdigest()[:16]
FORGED = {
    "old-format-huge-time": _old_style_token({"t": 10**30, "i": "backtest_1_ab", "u": _ALICE_DIGEST}),
    "old-format-nul-id": _old_style_token({"t": 1, "i": "a\x00b", "u": _ALICE_DIGEST}),
    "checked-huge-time": encode_page_token(
        request_binding(pb.ListBacktestsRequest(), "alice"), (10**30, "b")
    ),
}
"""Page tokens a client made up: the former format, and the current one (its check is no secret)."""


# --- SubmitBacktest and GetBacktest -------------------------------------------------------------------------


async def test_submit_queues_the_job_and_get_returns_it(harness: Harness) -> None:
    # Act
    response = await harness.stub.SubmitBacktest(_request(), metadata=harness.alice)
    stored = await harness.stub.GetBacktest(
        pb.GetBacktestRequest(backtest_id=response.backtest.backtest_id), metadata=harness.alice
    )

    # Assert
    backtest = response.backtest
    assert backtest.state == pb.BACKTEST_STATE_QUEUED
    assert list(backtest.symbols) == ["AAPL", "MSFT"]
    assert list(backtest.patterns) == ["Bull_Flag"]
    assert (backtest.parameters.initial_capital, backtest.parameters.commission_rate) == (50_000, 0.001)
    assert backtest.parameters.stop_loss_pct == 0.02
    assert (backtest.start_date, backtest.end_date) == (_date(2025, 1, 2), _date(2025, 12, 31))
    assert backtest.create_time.ToNanoseconds() == backtest.update_time.ToNanoseconds() >= NOW_NS
    assert [job.backtest_id for job in harness.publisher.jobs] == [backtest.backtest_id]
    assert stored.backtest == backtest


@pytest.mark.parametrize(
    ("receivers", "unavailable", "code", "state"),
    [
        (1, False, grpc.StatusCode.OK, BacktestState.QUEUED),
        (0, False, grpc.StatusCode.OK, BacktestState.FAILED),  # nobody listens: failed at once
        (1, True, grpc.StatusCode.OK, BacktestState.QUEUED),  # the bus is down: queued, retried later
    ],
)
async def test_submit_outcome_depends_on_the_producer_hearing_the_job(
    harness: Harness, receivers: int, unavailable: bool, code: grpc.StatusCode, state: BacktestState
) -> None:
    # Arrange
    harness.publisher.receivers = receivers
    harness.publisher.unavailable = unavailable

    # Act
    try:
        await harness.stub.SubmitBacktest(_request(), metadata=harness.alice)
        status = grpc.StatusCode.OK
    except grpc.aio.AioRpcError as error:
        status = error.code()

    # Assert
    assert status is code
    [stored] = harness.store.rows.values()
    assert stored.state is state
    assert ("no backtest worker" in stored.error_message) is (receivers == 0)


async def test_get_shows_progress_not_yet_written(harness: Harness) -> None:
    # Arrange
    backtest = await _submit(harness)

    # Act
    harness.jobs.apply_progress(backtest.backtest_id, 0.25, "AAPL")
    seen = await harness.stub.GetBacktest(
        pb.GetBacktestRequest(backtest_id=backtest.backtest_id), metadata=harness.alice
    )

    # Assert
    assert (seen.backtest.state, seen.backtest.progress) == (pb.BACKTEST_STATE_RUNNING, 0.25)
    assert seen.backtest.current_symbol == "AAPL"


# --- INVALID_ARGUMENT and its field violations ----------------------------------------------------------


def _submit_call(**changes: Any) -> Callable[[Harness], Awaitable[object]]:
    return lambda h: h.stub.SubmitBacktest(_request(**changes), metadata=h.alice)


def _list_call(**fields: Any) -> Callable[[Harness], Awaitable[object]]:
    return lambda h: h.stub.ListBacktests(pb.ListBacktestsRequest(**fields), metadata=h.alice)


async def _cancel_completed(h: Harness) -> object:
    backtest = await _submit(h)
    await _complete(h, backtest.backtest_id)
    return await h.stub.CancelBacktest(
        pb.CancelBacktestRequest(backtest_id=backtest.backtest_id), metadata=h.alice
    )


@pytest.mark.parametrize(
    ("call", "fields"),
    [
        pytest.param(
            _submit_call(
                symbols=["AAPL", "not a ticker"],
                start_date=_date(2025, 6, 1),
                end_date=_date(2025, 1, 1),
                parameters=pb.BacktestParameters(stop_loss_pct=-0.0),
            ),
            {"symbols[1]", "end_date"},
            id="bad-symbol-reversed-period",
        ),
        # The proto's limits first: a request beyond them is refused before the semantic checks run.
        pytest.param(
            _submit_call(
                symbols=[f"S{index}" for index in range(51)],
                start_date=_date(2025, 6, 1),
                end_date=_date(2025, 1, 1),
                parameters=pb.BacktestParameters(commission_rate=0.5),
            ),
            {"symbols", "parameters.commission_rate"},
            id="many-symbols-high-commission",
        ),
        pytest.param(_submit_call(symbols=[]), {"symbols"}, id="no-symbols"),
        pytest.param(_submit_call(symbols=["AAPL", "not a ticker"]), {"symbols[1]"}, id="bad-symbol"),
        pytest.param(_submit_call(patterns=[]), {"patterns"}, id="no-patterns"),
        pytest.param(_submit_call(patterns=["Bull Flag"]), {"patterns[0]"}, id="bad-pattern"),
        pytest.param(_submit_call(start_date=None), {"start_date"}, id="no-start-date"),
        pytest.param(_submit_call(start_date=_date(2025, 2, 30)), {"start_date"}, id="no-such-date"),
        pytest.param(_submit_call(end_date=_date(2026, 2, 1)), {"end_date"}, id="end-after-the-clock"),
        pytest.param(
            _submit_call(parameters=pb.BacktestParameters(max_position_size=2)),
            {"parameters.max_position_size"},
            id="position-above-capital",
        ),
        pytest.param(_list_call(page_size=-1), {"page_size"}, id="negative-page-size"),
        pytest.param(_list_call(page_token="garbage"), {"page_token"}, id="garbage-page-token"),
        *(
            pytest.param(_list_call(page_token=token), {"page_token"}, id=name)
            for name, token in FORGED.items()
        ),
        pytest.param(_cancel_completed, {"backtest_id"}, id="cancel-completed"),
    ],
)
async def test_invalid_request_is_invalid_argument_with_field_violations(
    harness: Harness, call: Callable[[Harness], Awaitable[object]], fields: set[str]
) -> None:
    # Act
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(harness)

    # Assert
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _violations(raised.value) == fields


# --- NOT_FOUND: unknown ids, and other users' backtests ------------------------------------------------


async def _first_read(stub: Stub, backtest_id: str, metadata: Metadata) -> object:
    stream = stub.StreamBacktest(pb.StreamBacktestRequest(backtest_id=backtest_id), metadata=metadata)
    return await stream.read()


RPCS: dict[str, Callable[[Stub, str, Metadata], Awaitable[object]]] = {
    "get": lambda stub, i, m: stub.GetBacktest(pb.GetBacktestRequest(backtest_id=i), metadata=m),
    "cancel": lambda stub, i, m: stub.CancelBacktest(pb.CancelBacktestRequest(backtest_id=i), metadata=m),
    "stream": _first_read,
}


@pytest.mark.parametrize("rpc", RPCS)
@pytest.mark.parametrize("whose", ["bob-reads-alices", "unknown", "nul-bytes", "sixty-four-chars", "empty"])
async def test_backtest_not_of_the_caller_is_not_found(harness: Harness, rpc: str, whose: str) -> None:
    # Arrange
    alices = await _submit(harness)
    backtest_id, caller = {
        "bob-reads-alices": (alices.backtest_id, harness.bob),
        "unknown": ("backtest_1_00", harness.alice),
        "nul-bytes": ("backtest_1_\x00ff", harness.alice),
        "sixty-four-chars": ("x" * 64, harness.alice),  # longer is INVALID_ARGUMENT (the proto's limit)
        "empty": ("", harness.alice),
    }[whose]

    # Act
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await RPCS[rpc](harness.stub, backtest_id, caller)

    # Assert
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND
    assert len(raised.value.details() or "") < 200
    assert harness.store.rows[alices.backtest_id].state is BacktestState.QUEUED


async def test_list_shows_only_the_callers_backtests(harness: Harness) -> None:
    # Arrange
    alices = await _submit(harness)
    bobs = await _submit(harness, harness.bob)

    # Act
    of_alice = await harness.stub.ListBacktests(pb.ListBacktestsRequest(), metadata=harness.alice)
    of_bob = await harness.stub.ListBacktests(pb.ListBacktestsRequest(), metadata=harness.bob)

    # Assert
    assert [b.backtest_id for b in of_alice.backtests] == [alices.backtest_id]
    assert [b.backtest_id for b in of_bob.backtests] == [bobs.backtest_id]


# --- ListBacktests paging ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "page_size", "pages"), [(0, 2, 1), (3, 2, 2), (5, 2, 3), (5, 5, 1), (5, 0, 1)]
)
async def test_list_pages_through_every_backtest_once_newest_first(
    harness: Harness, count: int, page_size: int, pages: int
) -> None:
    # Arrange
    submitted = [(await _submit(harness)).backtest_id for _ in range(count)]

    # Act
    listed: list[str] = []
    token = ""
    responses = 0
    while True:
        response = await harness.stub.ListBacktests(
            pb.ListBacktestsRequest(page_size=page_size, page_token=token), metadata=harness.alice
        )
        listed += [backtest.backtest_id for backtest in response.backtests]
        responses += 1
        token = response.next_page_token
        if not token:
            break

    # Assert
    assert listed == submitted[::-1]
    assert responses == pages


async def test_page_token_of_another_user_is_invalid_argument(harness: Harness) -> None:
    # Arrange
    for _ in range(2):
        await _submit(harness)
    first = await harness.stub.ListBacktests(pb.ListBacktestsRequest(page_size=1), metadata=harness.alice)

    # Act
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await harness.stub.ListBacktests(
            pb.ListBacktestsRequest(page_size=1, page_token=first.next_page_token), metadata=harness.bob
        )

    # Assert
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _violations(raised.value) == {"page_token"}


# --- CancelBacktest -------------------------------------------------------------------------------------


@pytest.mark.parametrize("running", [False, True])
async def test_cancel_tells_the_producer_once_and_a_second_cancel_is_harmless(
    harness: Harness, running: bool
) -> None:
    # Arrange
    backtest = await _submit(harness)
    if running:
        harness.jobs.apply_progress(backtest.backtest_id, 0.5)
        await harness.jobs.flush()
    request = pb.CancelBacktestRequest(backtest_id=backtest.backtest_id)

    # Act
    cancelled = await harness.stub.CancelBacktest(request, metadata=harness.alice)
    again = await harness.stub.CancelBacktest(request, metadata=harness.alice)

    # Assert
    assert cancelled.backtest.state == again.backtest.state == pb.BACKTEST_STATE_CANCELLED
    assert [job.backtest_id for job, _ in harness.publisher.cancels] == [backtest.backtest_id]


async def test_cancel_with_the_bus_down_still_cancels(harness: Harness) -> None:
    # Arrange
    backtest = await _submit(harness)
    harness.publisher.unavailable = True

    # Act
    cancelled = await harness.stub.CancelBacktest(
        pb.CancelBacktestRequest(backtest_id=backtest.backtest_id), metadata=harness.alice
    )

    # Assert
    assert cancelled.backtest.state == pb.BACKTEST_STATE_CANCELLED
    assert harness.jobs.stats().publish_failures == 1


# --- StreamBacktest -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "state"),
    [
        (BacktestOutcome(state=BacktestState.COMPLETED, result=BacktestResult(total_trades=4)),
         pb.BACKTEST_STATE_COMPLETED),
        (BacktestOutcome(state=BacktestState.FAILED, error_message="no data"), pb.BACKTEST_STATE_FAILED),
        (BacktestOutcome(state=BacktestState.CANCELLED), pb.BACKTEST_STATE_CANCELLED),
    ],
)  # fmt: skip
async def test_stream_shows_state_then_progress_then_outcome_and_ends(
    harness: Harness, outcome: BacktestOutcome, state: pb.BacktestState.ValueType
) -> None:
    # Arrange
    backtest = await _submit(harness)
    eta_ns = NOW_NS + 120 * 10**9
    stream = harness.stub.StreamBacktest(
        pb.StreamBacktestRequest(backtest_id=backtest.backtest_id), metadata=harness.alice
    )
    first = await stream.read()

    # Act
    harness.jobs.apply_progress(backtest.backtest_id, 0.5, "MSFT", eta_ns)
    second = await stream.read()
    harness.jobs.apply_outcome(backtest.backtest_id, outcome)
    third = await stream.read()
    end = await stream.read()

    # Assert
    assert isinstance(first, pb.StreamBacktestResponse) and isinstance(second, pb.StreamBacktestResponse)
    assert isinstance(third, pb.StreamBacktestResponse)
    assert first.backtest == backtest
    assert (second.backtest.state, second.backtest.progress) == (pb.BACKTEST_STATE_RUNNING, 0.5)
    assert second.backtest.estimated_completion_time.ToNanoseconds() == eta_ns
    done = third.backtest
    assert (done.state, done.error_message) == (state, outcome.error_message)
    assert done.progress == (1.0 if state == pb.BACKTEST_STATE_COMPLETED else 0.5)
    assert done.HasField("result") is (outcome.result is not None)
    assert end is grpc.aio.EOF
    assert await stream.code() is grpc.StatusCode.OK
    stored = await harness.stub.GetBacktest(
        pb.GetBacktestRequest(backtest_id=backtest.backtest_id), metadata=harness.alice
    )
    assert stored.backtest == done


async def test_stream_of_an_ended_backtest_yields_it_once(harness: Harness) -> None:
    # Arrange
    backtest = await _submit(harness)
    await _complete(harness, backtest.backtest_id)

    # Act
    stream = harness.stub.StreamBacktest(
        pb.StreamBacktestRequest(backtest_id=backtest.backtest_id), metadata=harness.alice
    )
    seen = [response.backtest.state async for response in stream]

    # Assert
    assert seen == [pb.BACKTEST_STATE_COMPLETED]


async def test_streams_beyond_the_users_limit_are_resource_exhausted(harness: Harness) -> None:
    # Arrange
    backtest = await _submit(harness)
    request = pb.StreamBacktestRequest(backtest_id=backtest.backtest_id)
    open_streams = [harness.stub.StreamBacktest(request, metadata=harness.alice) for _ in range(MAX_WATCHERS)]
    for stream in open_streams:
        await stream.read()

    # Act
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _first_read(harness.stub, backtest.backtest_id, harness.alice)
    bobs = await _submit(harness, harness.bob)
    of_bob = await _first_read(harness.stub, bobs.backtest_id, harness.bob)

    # Assert
    assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert isinstance(of_bob, pb.StreamBacktestResponse)
    for stream in open_streams:
        stream.cancel()
