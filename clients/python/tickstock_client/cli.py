"""The `tickstock` command line: stream events as JSON lines, check health."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

import grpc
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc, events_pb2

_EVENT_TYPES = {
    name.removeprefix("EVENT_TYPE_").lower(): value
    for name, value in events_pb2.EventType.items()
    if value != events_pb2.EVENT_TYPE_UNSPECIFIED
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tickstock", description="Command line client of TickStock.")
    parser.add_argument(
        "--target",
        default=os.environ.get("TICKSTOCK_TARGET", "localhost:50051"),
        help="server address (env TICKSTOCK_TARGET; default localhost:50051)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stream = commands.add_parser("stream", help="stream events as JSON lines (needs env TICKSTOCK_API_KEY)")
    stream.add_argument("--symbols", default="", help="comma-separated tickers; empty means all")
    stream.add_argument("--types", default="", help=f"comma-separated event types: {', '.join(_EVENT_TYPES)}")
    stream.add_argument("--limit", type=int, default=0, help="stop after this many events (0: never)")
    health = commands.add_parser("health", help="print the health of the server or of one service")
    health.add_argument("service", nargs="?", default="", help="e.g. tickstock.v1.EventService")
    return parser


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


async def _stream(target: str, args: argparse.Namespace) -> int:
    key = os.environ.get("TICKSTOCK_API_KEY", "")
    if not key:
        print(
            "error: set TICKSTOCK_API_KEY (create one with: tickstock-server create-key --user NAME)",
            file=sys.stderr,
        )
        return 2
    unknown = [t for t in _split(args.types) if t not in _EVENT_TYPES]
    if unknown:
        print(f"error: unknown event types: {', '.join(unknown)}", file=sys.stderr)
        return 2
    request = event_service_pb2.StreamEventsRequest(
        filter=event_service_pb2.EventFilter(
            symbols=_split(args.symbols), event_types=[_EVENT_TYPES[t] for t in _split(args.types)]
        )
    )
    received = 0
    async with grpc.aio.insecure_channel(target) as channel:
        stub = event_service_pb2_grpc.EventServiceStub(channel)
        call = stub.StreamEvents(request, metadata=(("authorization", f"Bearer {key}"),))
        async for response in call:
            if response.HasField("event_batch"):
                for event in response.event_batch.events:
                    print(json_format.MessageToJson(event, indent=None), flush=True)
                    received += 1
                    if args.limit and received >= args.limit:
                        call.cancel()
                        return 0
            else:
                print(json_format.MessageToJson(response, indent=None), file=sys.stderr, flush=True)
    return 0


async def _health(target: str, service: str) -> int:
    async with grpc.aio.insecure_channel(target) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service)
        )
    print(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
    return 0 if response.status == health_pb2.HealthCheckResponse.SERVING else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `tickstock`."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "stream":
            return asyncio.run(_stream(args.target, args))
        return asyncio.run(_health(args.target, args.service))
    except grpc.aio.AioRpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
