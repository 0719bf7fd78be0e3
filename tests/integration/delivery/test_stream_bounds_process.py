"""The event stream's bounds in the real server process, on a real Redis Stream: the replay limit of a
made-up resume token, and a client that stops reading, which loses its stream slot within the stall
bound even though the per-user limit is 1 and it never reads again."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import grpc
from polling import eventually
from server_process import free_port, run_admin, server_env, serving

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc

MAX_REPLAY_EVENTS = 2000
# Guards against a hang, not measured durations: the server's stall bound is 1 s. Below the 40 s in
# which keepalive would notice a dead connection, so the slot is not freed that way.
GUARD_S = 30.0
HISTORY_GUARD_S = 120.0
"""The synthetic feed of 4,000 symbols logs about 200 events a second."""
# The stalled client's channel keeps HTTP/2's initial window (no growth by bandwidth probes), so the
# server's writes block after a few hundred KB instead of a few MB.
SMALL_WINDOW = (("grpc.http2.bdp_probe", 0),)


def _events_logged(env: Mapping[str, str]) -> float:
    url = f"http://127.0.0.1:{env['TICKSTOCK_METRICS__PORT']}/metrics"
    for line in urllib.request.urlopen(url, timeout=5).read().decode().splitlines():
        if line.startswith("tickstock_events_logged_total"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _wait_for_history(env: Mapping[str, str], events: int) -> None:
    async def logged() -> bool:
        return await asyncio.to_thread(_events_logged, env) >= events

    await eventually(logged, timeout_s=HISTORY_GUARD_S, interval_s=0.5)


def _made_up_resume() -> event_service_pb2.StreamEventsRequest:
    request = event_service_pb2.StreamEventsRequest(
        delivery=event_service_pb2.DeliveryOptions(max_batch_size=1000)
    )
    request.resume_token.epoch, request.resume_token.seq = "made-up", 0
    return request


async def _status_when_served(
    stub: event_service_pb2_grpc.EventServiceStub, metadata: tuple[tuple[str, str], ...]
) -> event_service_pb2.SubscriptionStatus:
    """The status of a new stream, retried while the user's only slot is still taken."""
    async with asyncio.timeout(GUARD_S):
        while True:
            call = stub.StreamEvents(event_service_pb2.StreamEventsRequest(), metadata=metadata)
            try:
                status = (await call.read()).subscription_status
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, exc
                await asyncio.sleep(0.2)
                continue
            call.cancel()
            return status


async def test_replay_limit_and_a_stalled_client_losing_its_slot(
    pg_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = server_env(
        port,
        TICKSTOCK_DATA_DIR=str(tmp_path),
        TICKSTOCK_DATABASE_URL=pg_database_url,
        TICKSTOCK_REDIS_URL=redis_url,
        TICKSTOCK_DELIVERY__STREAM_KEY_PREFIX=f"test:{port}:events:",
        TICKSTOCK_DELIVERY__LOG_CAPACITY="1000",  # the replay reads Redis
        TICKSTOCK_DELIVERY__MAX_REPLAY_EVENTS=str(MAX_REPLAY_EVENTS),
        TICKSTOCK_DELIVERY__MAX_STREAMS_PER_USER="1",
        TICKSTOCK_DELIVERY__STALL_TIMEOUT_S="1",
        TICKSTOCK_FEED__SYMBOLS="4000",
        TICKSTOCK_FEED__RATE_PER_S="20000",
    )
    async with serving(env, port):
        key = await run_admin("create-key", "--user", "stalling", env=env)
        metadata = (("authorization", f"Bearer {key}"),)
        await _wait_for_history(env, MAX_REPLAY_EVENTS + 500)
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
            grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=SMALL_WINDOW) as stalled_channel,
        ):
            stub = event_service_pb2_grpc.EventServiceStub(channel)

            # Act 1: a made-up token replays the newest entries only, after an explicit gap.
            call = stub.StreamEvents(_made_up_resume(), metadata=metadata)
            replay: list[event_service_pb2.StreamEventsResponse] = []
            async for message in call:
                replay.append(message)
                if message.HasField("replay_completed"):
                    break
            call.cancel()

            # Act 2: the same kind of stream, whose client reads the status and then nothing.
            stalled = event_service_pb2_grpc.EventServiceStub(stalled_channel).StreamEvents(
                _made_up_resume(), metadata=metadata
            )
            await stalled.read()
            status = await _status_when_served(stub, metadata)
            with contextlib.suppress(grpc.aio.AioRpcError):
                async with asyncio.timeout(GUARD_S):
                    while await stalled.read() is not grpc.aio.EOF:
                        pass
            stalled_code = await stalled.code()

    start = replay[0].subscription_status.start.seq
    gaps = [m.gap_notice for m in replay if m.HasField("gap_notice")]
    assert replay[0].subscription_status.limits.max_replay_events == MAX_REPLAY_EVENTS
    assert [(g.reason, g.from_seq, g.to_seq) for g in gaps] == [
        (event_service_pb2.GAP_REASON_EPOCH_CHANGED, 0, 0),
        (event_service_pb2.GAP_REASON_REPLAY_LIMIT, 1, start - MAX_REPLAY_EVENTS),
    ]
    seqs = [e.seq for m in replay if m.HasField("event_batch") for e in m.event_batch.events]
    assert seqs == list(range(start - MAX_REPLAY_EVENTS + 1, start + 1))
    assert status.limits.open_streams == 1
    assert status.limits.stall_timeout.ToMilliseconds() == 1000
    assert stalled_code == grpc.StatusCode.RESOURCE_EXHAUSTED
