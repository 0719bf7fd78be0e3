"""CPU cost of the per-message steps of an event stream that are ours, not gRPC's.

- `mailbox_wait_wake`: a stream's reader waiting for its next message and the producer waking it
  (`Mailbox.wait` / `put`), on uvloop, one message per wait as at live rates.
- `batch_framing_3_events`: framing a batch response of three pre-encoded events
  (`api/mappers/event_service.batch_response`).

Usage: .venv/bin/python bench/stream_costs.py [--items N]
Prints `name: value unit` lines; CPU time (`time.process_time`), best of three runs.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop

from tickstock.v1 import events_pb2
from tickstock_server.api.mappers.event_service import batch_response
from tickstock_server.support.mailbox import Mailbox


async def _wait_wake(items: int) -> float:
    mailbox: Mailbox[int] = Mailbox(1000)

    async def reader() -> None:
        for _ in range(items):
            while not len(mailbox):
                await mailbox.wait(5.0)
            mailbox.take()

    async def writer() -> None:
        for item in range(items):
            mailbox.put(item)
            await asyncio.sleep(0)

    started = time.process_time()
    await asyncio.gather(reader(), writer())
    return (time.process_time() - started) / items


def _framing(items: int) -> float:
    events = [
        events_pb2.Event(seq=seq, symbol="AAPL", price=1.5 * seq, label="x" * 40).SerializeToString()
        for seq in range(3)
    ]
    started = time.process_time()
    for _ in range(items):
        batch_response(events, "22e5106a4a1c8d9e", 123_456_789)
    return (time.process_time() - started) / items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    wait_wake = min(uvloop.run(_wait_wake(args.items)) for _ in range(3))
    framing = min(_framing(args.items) for _ in range(3))
    print(f"mailbox_wait_wake: {wait_wake * 1e6:.2f} us")
    print(f"batch_framing_3_events: {framing * 1e6:.2f} us")


if __name__ == "__main__":
    main()
