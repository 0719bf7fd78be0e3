"""The `AsyncClient` methods of BacktestService: submit, get, list, cancel and watch backtests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

from tickstock.v1 import backtest_service_pb2, backtest_service_pb2_grpc
from tickstock_client._backtest_models import Backtest, BacktestParameters
from tickstock_client._backtest_proto import backtest_from_proto, backtest_parameters_to_proto, date_to_proto
from tickstock_client._streaming import reopening

__all__ = ["BacktestCalls"]


class BacktestCalls:
    """Mixed into `AsyncClient`, which provides the stub, the metadata, `_call` and `_paged`."""

    _backtests: backtest_service_pb2_grpc.BacktestServiceAsyncStub
    _metadata: tuple[tuple[str, str], ...]
    _call: Callable[..., Awaitable[Any]]
    _paged: Callable[..., AsyncIterator[Any]]

    async def submit_backtest(
        self,
        symbols: tuple[str, ...] | list[str],
        start: date,
        end: date,
        patterns: tuple[str, ...] | list[str],
        parameters: BacktestParameters | None = None,
    ) -> Backtest:
        """Queue a backtest of `patterns` on `symbols` over the days `start` to `end`, both inclusive.

        The pattern producer runs it; follow it with `watch_backtest`. Not retried: a retry after a
        submission that went through would queue the backtest twice.

        Args:
            symbols: 1 to 50 tickers.
            start: First day.
            end: Last day: after `start`, at most 1825 days later, not in the future.
            patterns: Pattern names, at least one.
            parameters: Trading parameters; None takes the server's defaults.

        Returns:
            The backtest, QUEUED; FAILED at once when no producer is listening.

        Raises:
            InvalidArgumentError: Every bad field at once (see its `field_violations`).
        """
        request = backtest_service_pb2.SubmitBacktestRequest(
            symbols=symbols,
            start_date=date_to_proto(start),
            end_date=date_to_proto(end),
            patterns=patterns,
            parameters=backtest_parameters_to_proto(parameters) if parameters is not None else None,
        )
        answer = await self._call(self._backtests.SubmitBacktest, request, idempotent=False)
        return backtest_from_proto(answer.backtest)

    async def get_backtest(self, backtest_id: str) -> Backtest:
        """One of this user's backtests, with its latest progress; NotFoundError for another user's."""
        request = backtest_service_pb2.GetBacktestRequest(backtest_id=backtest_id)
        answer = await self._call(self._backtests.GetBacktest, request, idempotent=True)
        return backtest_from_proto(answer.backtest)

    async def list_backtests(self) -> AsyncIterator[Backtest]:
        """Every backtest of this user, newest first, page by page."""
        request = backtest_service_pb2.ListBacktestsRequest(page_size=100)
        pages = self._paged(
            self._backtests.ListBacktests, request, lambda a: map(backtest_from_proto, a.backtests)
        )
        async for backtest in pages:
            yield backtest

    async def cancel_backtest(self, backtest_id: str) -> Backtest:
        """Cancel one of this user's queued or running backtests; cancelling it again changes nothing.

        Raises:
            InvalidArgumentError: The backtest has completed or failed already.
            NotFoundError: No backtest of this user has that id.
        """
        request = backtest_service_pb2.CancelBacktestRequest(backtest_id=backtest_id)
        answer = await self._call(self._backtests.CancelBacktest, request, idempotent=False)
        return backtest_from_proto(answer.backtest)

    async def watch_backtest(self, backtest_id: str) -> AsyncGenerator[Backtest, None]:
        """The backtest's current state, then each new one, ending after a final state.

        Final states are COMPLETED, FAILED and CANCELLED (`BacktestState.is_final`). The server sends
        the current state first on every stream, so after an interruption (UNAVAILABLE, with backoff,
        or the server ending the stream early) it opens a new stream and goes on from there; a state
        equal to the last one yielded is not repeated. States that changed twice while it reconnected
        show only the newer one, as the server shows a slow reader only the latest state.

        Raises:
            NotFoundError: No backtest of this user has that id.
            ResourceExhaustedError: This user watches as many backtests as allowed.
        """
        request = backtest_service_pb2.StreamBacktestRequest(backtest_id=backtest_id)
        # No heartbeats on this stream: a backtest may run for long without a change, so no stall
        # timeout either; keepalive pings notice a dead connection.
        responses = reopening(
            lambda: self._backtests.StreamBacktest(request, metadata=self._metadata),
            stall=None,
            what=f"backtest stream of {backtest_id}",
        )
        last: Backtest | None = None
        async with contextlib.aclosing(responses):
            async for response in responses:
                backtest = backtest_from_proto(response.backtest)
                if backtest != last:
                    last = backtest
                    yield backtest
                if backtest.state.is_final:
                    return
