"""BacktestService servicer: the caller's backtests. Parse, call, map; the rules live in `BacktestJobs`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from tickstock.v1 import backtest_service_pb2 as pb
from tickstock_server.api.auth import current_principal
from tickstock_server.api.interceptors import Context
from tickstock_server.api.mappers.backtest_service import backtest_to_proto, submission_from_proto
from tickstock_server.backtests.jobs import BacktestJobs


class BacktestServiceServicer:
    """Serves `tickstock.v1.BacktestService`; every backtest is the authenticated caller's."""

    def __init__(self, *, jobs: BacktestJobs) -> None:
        self._jobs = jobs

    async def SubmitBacktest(  # noqa: N802 - gRPC method name
        self, request: pb.SubmitBacktestRequest, context: Context
    ) -> pb.SubmitBacktestResponse:
        """Validate, store and queue a backtest of the caller."""
        backtest = await self._jobs.submit(current_principal().user, submission_from_proto(request))
        return pb.SubmitBacktestResponse(backtest=backtest_to_proto(backtest))

    async def GetBacktest(  # noqa: N802
        self, request: pb.GetBacktestRequest, context: Context
    ) -> pb.GetBacktestResponse:
        """One of the caller's backtests; another user's is NOT_FOUND."""
        backtest = await self._jobs.get(current_principal().user, request.backtest_id)
        return pb.GetBacktestResponse(backtest=backtest_to_proto(backtest))

    async def ListBacktests(  # noqa: N802
        self, request: pb.ListBacktestsRequest, context: Context
    ) -> pb.ListBacktestsResponse:
        """The caller's backtests, newest first, with page tokens."""
        page = await self._jobs.list(
            current_principal().user, page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListBacktestsResponse(
            backtests=[backtest_to_proto(backtest) for backtest in page.backtests],
            next_page_token=page.next_page_token,
        )

    async def CancelBacktest(  # noqa: N802
        self, request: pb.CancelBacktestRequest, context: Context
    ) -> pb.CancelBacktestResponse:
        """Cancel one of the caller's queued or running backtests."""
        backtest = await self._jobs.cancel(current_principal().user, request.backtest_id)
        return pb.CancelBacktestResponse(backtest=backtest_to_proto(backtest))

    async def StreamBacktest(  # noqa: N802
        self, request: pb.StreamBacktestRequest, context: Context
    ) -> AsyncIterator[pb.StreamBacktestResponse]:
        """The backtest's current state, then every change, ending after its final state."""
        states = self._jobs.watch(current_principal().user, request.backtest_id)
        async with contextlib.aclosing(states):
            async for backtest in states:
                yield pb.StreamBacktestResponse(backtest=backtest_to_proto(backtest))
