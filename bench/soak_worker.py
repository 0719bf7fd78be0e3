"""Load-generator process of `bench/soak.py`: one share of the subscribers, each reconnecting continually.

Each subscriber opens a stream with a filter of `fanout_worker.filters`, keeps it for a random lifetime
(uniform between half and one and a half times the mean), cancels it and at once opens it again with the
resume token of the last batch it received, for as long as the worker runs. The parent asks over the pipe
for the counts of the window just ended ("window") and finally stops the worker ("stop").
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import grpc
from fanout_worker import WorkerConfig, filters
from soak_windows import ClientCounts

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc


@dataclass(frozen=True)
class SoakConfig(WorkerConfig):
    """`fanout_worker`'s share of subscribers and channels and seed, and the streams' mean lifetime."""

    lifetime_s: float


class _Subscriber:
    """One client: reconnects with its last token until cancelled; counts into the worker's window."""

    def __init__(self, request: event_service_pb2.StreamEventsRequest, rng: random.Random) -> None:
        self._request = request
        self._rng = rng
        self._token: event_service_pb2.ResumeToken | None = None

    async def run(
        self,
        stub: event_service_pb2_grpc.EventServiceStub,
        metadata: tuple[tuple[str, str], ...],
        lifetime_s: float,
        window: list[ClientCounts],
    ) -> None:
        first = True
        while True:
            request = event_service_pb2.StreamEventsRequest()
            request.CopyFrom(self._request)
            if self._token is not None:
                request.resume_token.CopyFrom(self._token)
            call = stub.StreamEvents(request, metadata=metadata)
            if not first:
                window[0].resumes += 1
            first = False
            # Start times are spread over one lifetime, so about the same share reconnects every second.
            life = self._rng.uniform(0.5, 1.5) * lifetime_s
            try:
                await asyncio.wait_for(self._read(call, window), life)
            except TimeoutError:
                pass
            except grpc.aio.AioRpcError as exc:
                window[0].errors += 1
                window[0].error_codes.add(exc.code().name)
                await asyncio.sleep(1.0)
            finally:
                call.cancel()

    async def _read(self, call: grpc.aio.UnaryStreamCall, window: list[ClientCounts]) -> None:
        async for response in call:
            kind = response.WhichOneof("payload")
            counts = window[0]
            if kind == "event_batch":
                now_ns = time.time_ns()
                batch = response.event_batch
                last = self._token.seq if self._token is not None else 0
                counts.duplicates += sum(1 for event in batch.events if event.seq <= last)
                counts.add_latencies((now_ns - e.ingest_time.ToNanoseconds()) / 1e6 for e in batch.events)
                counts.events += len(batch.events)
                if batch.HasField("resume_token"):
                    self._token = batch.resume_token
            elif kind == "drop_notice":
                counts.drops += response.drop_notice.dropped_count
            elif kind == "gap_notice":
                counts.gaps += 1


async def _work(config: SoakConfig, conn: Connection) -> None:
    metadata = (("authorization", f"Bearer {config.token}"),)
    channels = [
        grpc.aio.insecure_channel(f"127.0.0.1:{config.port}", options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(config.channels)
    ]
    rng = random.Random(config.seed)
    window = [ClientCounts(rng=random.Random(config.seed + 1))]
    tasks = []
    for index, event_filter in enumerate(filters(config.subscribers, config.watchlists, rng)):
        subscriber = _Subscriber(event_service_pb2.StreamEventsRequest(filter=event_filter), rng)
        stub = event_service_pb2_grpc.EventServiceStub(channels[index % len(channels)])
        tasks.append(asyncio.create_task(subscriber.run(stub, metadata, config.lifetime_s, window)))
    conn.send("ready")
    while (command := await asyncio.to_thread(conn.recv)) == "window":
        ended, window[0] = window[0], ClientCounts(rng=random.Random(rng.random()))
        conn.send(ended)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()
    conn.send(command)


def run(config: SoakConfig, conn: Connection) -> None:
    """Entry point of a worker process: run the subscribers until the parent says "stop"."""
    import uvloop

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent stops us
    uvloop.run(_work(config, conn))
    conn.close()
