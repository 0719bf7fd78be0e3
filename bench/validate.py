"""What the request-limit interceptor costs per call: protovalidate over representative requests.

Usage: .venv/bin/python bench/validate.py [--calls 20000] [--rounds 5]

Times, per request shape, `request_violations` (what RequestValidationInterceptor runs before each
handler) and the interceptor's wrapped behaviour around a handler that returns at once, against that
handler alone. Shapes: a one-field GetSymbol, a ScanPatterns with a 20-symbol filter, a StreamEvents
with a full filter and a 5,000-symbol list, a full SubmitBacktest, and a ListSymbols past its limits
(the cost of a refusal). Each figure is the median over `--rounds` rounds of `--calls` calls. Last, a
GetSymbol round trip over loopback to an in-process grpc.aio server whose handler answers at once,
without and with the interceptor (`--rpc-calls` sequential calls, median of the rounds).

Prints one `name: value unit` line per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable
from typing import Any

import grpc
import protovalidate
from google.protobuf.message import Message

from tickstock.v1 import (
    backtest_service_pb2,
    common_pb2,
    event_service_pb2,
    events_pb2,
    pattern_service_pb2,
    universe_service_pb2,
)
from tickstock_server.api.validation import RequestValidationInterceptor, request_violations
from tickstock_server.errors import InvalidRequestError


def requests() -> dict[str, Message]:
    """The request shapes, by name."""
    symbols = [f"S{index:04d}" for index in range(5_000)]
    stream = event_service_pb2.StreamEventsRequest(
        filter=event_service_pb2.EventFilter(
            symbols=symbols,
            universes=["sp500", "nasdaq100"],
            event_types=[events_pb2.EVENT_TYPE_HIGH, events_pb2.EVENT_TYPE_SURGE],
            min_price=5.0,
            max_price=500.0,
            min_significance=50.0,
        ),
        delivery=event_service_pb2.DeliveryOptions(max_batch_size=500),
    )
    stream.delivery.heartbeat_interval.seconds = 15
    return {
        "get_symbol": universe_service_pb2.GetSymbolRequest(symbol="AAPL"),
        "scan_20_symbols": pattern_service_pb2.ScanPatternsRequest(
            filter=pattern_service_pb2.PatternFilter(
                symbols=symbols[:20], pattern_types=["Bull_Flag", "Doji"], min_confidence=0.7, max_rsi=70.0
            ),
            page_size=50,
        ),
        "stream_5000_symbols": stream,
        "submit_backtest": backtest_service_pb2.SubmitBacktestRequest(
            symbols=symbols[:50],
            patterns=["Bull_Flag", "Doji", "Hammer"],
            start_date=common_pb2.Date(year=2025, month=1, day=2),
            end_date=common_pb2.Date(year=2025, month=12, day=31),
            parameters=backtest_service_pb2.BacktestParameters(initial_capital=50_000, commission_rate=0.001),
        ),
        "list_symbols_refused": universe_service_pb2.ListSymbolsRequest(
            query="q" * 1_000_000, page_size=5_000
        ),
    }


def per_call_us(work: Callable[[], Any], calls: int, rounds: int) -> float:
    """Median over rounds of the mean time of one call, in microseconds."""
    results = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            work()
        results.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(results)


async def interceptor_us(request: Message, calls: int, rounds: int) -> tuple[float, float]:
    """Median per-call time of a handler alone and wrapped by the interceptor, in microseconds."""

    async def handler(request: Any, context: Any) -> None:
        return None

    wrapped = RequestValidationInterceptor().wrap_unary(handler, "/bench/Method")

    async def run(behaviour: Callable[[Any, Any], Any]) -> float:
        results = []
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(calls):
                with contextlib.suppress(InvalidRequestError):
                    await behaviour(request, None)
            results.append((time.perf_counter() - started) / calls * 1e6)
        return statistics.median(results)

    return await run(handler), await run(wrapped)


async def round_trip_us(validating: bool, calls: int, rounds: int) -> float:
    """Median per-call time of a sequential GetSymbol round trip to a local server, in microseconds."""

    async def get_symbol(request: Any, context: Any) -> universe_service_pb2.GetSymbolResponse:
        return universe_service_pb2.GetSymbolResponse()

    interceptors = (RequestValidationInterceptor(),) if validating else ()
    server = grpc.aio.server(interceptors=interceptors)
    handler = grpc.unary_unary_rpc_method_handler(
        get_symbol,
        request_deserializer=universe_service_pb2.GetSymbolRequest.FromString,
        response_serializer=universe_service_pb2.GetSymbolResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("tickstock.v1.UniverseService", {"GetSymbol": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(
                "/tickstock.v1.UniverseService/GetSymbol",
                request_serializer=universe_service_pb2.GetSymbolRequest.SerializeToString,
                response_deserializer=universe_service_pb2.GetSymbolResponse.FromString,
            )
            request = universe_service_pb2.GetSymbolRequest(symbol="AAPL")
            await call(request)
            results = []
            for _ in range(rounds):
                started = time.perf_counter()
                for _ in range(calls):
                    await call(request)
                results.append((time.perf_counter() - started) / calls * 1e6)
            return statistics.median(results)
    finally:
        await server.stop(None)


def main() -> None:
    """Run every shape and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rpc-calls", type=int, default=2_000)
    args = parser.parse_args()
    validator = protovalidate.Validator()
    started = time.perf_counter()
    first = requests()
    for request in first.values():  # compiles each message type's rules once, as the server's first calls do
        request_violations(validator, request)
    print(f"validate_first_calls_all_shapes: {(time.perf_counter() - started) * 1e3:.1f} ms")
    for name, request in first.items():
        calls = (
            max(args.calls // 50, 20)
            if name in ("stream_5000_symbols", "list_symbols_refused")
            else args.calls
        )
        cost = per_call_us(lambda request=request: request_violations(validator, request), calls, args.rounds)
        print(f"validate_{name}: {cost:.2f} us")
        bare, wrapped = asyncio.run(interceptor_us(request, calls, args.rounds))
        print(f"interceptor_overhead_{name}: {wrapped - bare:.2f} us")
    for validating in (False, True):
        cost = asyncio.run(round_trip_us(validating, args.rpc_calls, args.rounds))
        print(f"round_trip_get_symbol_{'validated' if validating else 'plain'}: {cost:.1f} us")


if __name__ == "__main__":
    main()
