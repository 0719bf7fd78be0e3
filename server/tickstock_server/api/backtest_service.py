"""BacktestService servicer: the caller's backtests. Parse, call, map; the rules live in `BacktestService`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from tickstock.v1 import backtest_service_pb2 as pb
from tickstock_server.api.auth import current_principal
from tickstock_server.api.interceptors import Context
from tickstock_server.api.mappers.backtest_service import (
    backtest_to_proto,
    list_query_from_proto,
    list_response_to_proto,
    submission_from_proto,
)
from tickstock_server.backtests.service import BacktestService


class BacktestServiceServicer:
    """Serves `tickstock.v1.BacktestService`; every backtest is the authenticated caller's."""

    def __init__(self, *, backtests: BacktestService) -> None:
        self._backtests = backtests

    async def SubmitBacktest(  # noqa: N802 - gRPC method name
        self, request: pb.SubmitBacktestRequest, context: Context
    ) -> pb.SubmitBacktestResponse:
        """Validate, store and queue a backtest of the caller."""
        backtest = await self._backtests.submit(current_principal().user, submission_from_proto(request))
        return pb.SubmitBacktestResponse(backtest=backtest_to_proto(backtest))

    async def GetBacktest(  # noqa: N802
        self, request: pb.GetBacktestRequest, context: Context
    ) -> pb.GetBacktestResponse:
        """One of the caller's backtests; another user's is NOT_FOUND."""
        backtest = await self._backtests.get(current_principal().user, request.backtest_id)
        return pb.GetBacktestResponse(backtest=backtest_to_proto(backtest))

    async def ListBacktests(  # noqa: N802
        self, request: pb.ListBacktestsRequest, context: Context
    ) -> pb.ListBacktestsResponse:
        """The caller's backtests, newest first, with page tokens."""
        user = current_principal().user
        query = list_query_from_proto(request, user)
        page = await self._backtests.list(user, limit=query.limit, after=query.after)
        return list_response_to_proto(request, user, page)

    async def CancelBacktest(  # noqa: N802
        self, request: pb.CancelBacktestRequest, context: Context
    ) -> pb.CancelBacktestResponse:
        """Cancel one of the caller's queued or running backtests."""
        backtest = await self._backtests.cancel(current_principal().user, request.backtest_id)
        return pb.CancelBacktestResponse(backtest=backtest_to_proto(backtest))

    async def StreamBacktest(  # noqa: N802
        self, request: pb.StreamBacktestRequest, context: Context
    ) -> AsyncIterator[pb.StreamBacktestResponse]:
        """The backtest's current state, then every change, ending after its final state."""
        states = self._backtests.watch(current_principal().user, request.backtest_id)
        async with contextlib.aclosing(states):
            async for backtest in states:
                yield pb.StreamBacktestResponse(backtest=backtest_to_proto(backtest))
