"""The shipped topology under fault: an ingest process, gateways, clients that stream and resume
through the fault, a recorder of the stored Redis event stream, and the health each role reports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import redis.asyncio as aioredis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from owned_servers import Role
from redis.exceptions import RedisError
from resuming_client import ResumingClient
from server_process import free_port, run_admin, server_env, topology_settings

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc, events_pb2
from tickstock_server.bus.event_stream import meta_key
from tickstock_server.bus.stream_history import StreamRows, unpack_rows
from tickstock_server.support.cancellation import cancel_and_wait, raise_if_cancelling

_RETRY_S = 0.2
_EVENT_SERVICE = "tickstock.v1.EventService"


@dataclass
class Topology:
    ingest: Role
    gateways: list[Role]
    prefix: str
    metadata: tuple[tuple[str, str], ...]


@contextlib.asynccontextmanager
async def running_topology(
    database_url: str, redis_url: str, *, gateways: int = 2, continued_feed: bool = False
) -> AsyncIterator[Topology]:
    """Start the ingest, then `gateways` gateways, on these servers.

    The synthetic feed runs its session clock: it starts a trading day at every start, so a restarted
    ingest begins a new epoch. `continued_feed` stamps its ticks with the wall clock instead, so a
    restarted ingest continues the stored epoch after the seqs its predecessor may have issued: the
    path that must never reuse a seq. Ticks flow at every hour either way (thinner volume when the
    market is closed), and the tests assert only what the stream and the clients hold.
    """
    prefix = f"fault-{uuid.uuid4().hex[:8]}:"
    common = topology_settings(database_url, redis_url, prefix)
    if continued_feed:
        common["TICKSTOCK_FEED__SESSION_CLOCK"] = "false"
    ingest = Role(server_env(0, TICKSTOCK_ROLE="ingest", **common))
    ports = [free_port() for _ in range(gateways)]
    roles = [Role(server_env(port, TICKSTOCK_ROLE="gateway", **common), grpc_port=port) for port in ports]
    try:
        await ingest.start()
        await asyncio.gather(*(gateway.start() for gateway in roles))
        token = await run_admin("create-key", "--user", "alice", env=ingest.env)
        yield Topology(ingest, roles, prefix, (("authorization", f"Bearer {token}"),))
    finally:
        await asyncio.gather(*(role.stop() for role in [*roles, ingest]))


@dataclass
class Received:
    epoch: str
    seq: int
    event_id: str
    at_s: float


@dataclass
class StreamingClient:
    """Streams every event from the gateways in turn, resuming with its token after every cut."""

    topology: Topology
    state: ResumingClient = field(default_factory=ResumingClient)
    received: list[Received] = field(default_factory=list)
    gap_epochs: list[str] = field(default_factory=list)
    reading: asyncio.Event = field(default_factory=asyncio.Event)
    cuts: int = 0

    def __post_init__(self) -> None:
        self.reading.set()

    async def run(self) -> None:
        attempt = 0
        while True:
            port = self.topology.gateways[attempt % len(self.topology.gateways)].grpc_port
            attempt += 1
            try:
                await self._stream(port)
            except grpc.aio.AioRpcError:
                raise_if_cancelling()  # grpc may turn a cancelled read into a CANCELLED status
                self.cuts += 1
            await asyncio.sleep(_RETRY_S)

    async def _stream(self, port: int | None) -> None:
        request = event_service_pb2.StreamEventsRequest()
        if self.state.token is not None:
            request.resume_token.epoch, request.resume_token.seq = self.state.token
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = event_service_pb2_grpc.EventServiceStub(channel).StreamEvents(
                request, metadata=self.topology.metadata
            )
            while True:
                await self.reading.wait()  # a paused client stops reading; the server's policy acts
                response = await call.read()
                if response is grpc.aio.EOF:
                    return
                epoch = self.state.token[0] if self.state.token else ""
                kind = self.state.take(response)
                now = asyncio.get_running_loop().time()
                if kind == "gap_notice":
                    self.gap_epochs.append(epoch)
                elif kind == "event_batch":
                    epoch = response.event_batch.resume_token.epoch
                    self.received += [
                        Received(epoch, e.seq, e.event_id, now) for e in response.event_batch.events
                    ]

    def first_after(self, at_s: float) -> float:
        """Seconds from `at_s` to the first event received after it."""
        return next(r.at_s for r in self.received if r.at_s > at_s) - at_s


@dataclass
class StreamRecorder:
    """What the Redis event stream held: (epoch, seq) -> event id, read as it was written."""

    redis_url: str
    prefix: str
    stored: dict[tuple[str, int], str] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)

    async def run(self) -> None:
        async with aioredis.from_url(self.redis_url, socket_timeout=2) as client:
            while True:
                with contextlib.suppress(RedisError, OSError):
                    await self.read_once(client)
                raise_if_cancelling()
                await asyncio.sleep(0.05)

    async def read_once(self, client: aioredis.Redis) -> None:
        epoch = (await client.hget(meta_key(self.prefix), "epoch") or b"").decode()
        if not epoch:
            return
        after = self.last.get(epoch, 0)
        rows = await client.xrange(f"{self.prefix}stream:{epoch}", f"{after + 1}-0", "+", count=100_000)
        for entry in unpack_rows(StreamRows(rows)):
            event_id = events_pb2.Event.FromString(entry.encoded).event_id
            seen = self.stored.setdefault((epoch, entry.seq), event_id)
            assert seen == event_id, f"({epoch}, {entry.seq}) names two events: {seen} and {event_id}"
            self.last[epoch] = entry.seq


def assert_exactly_once(client: StreamingClient, recorder: StreamRecorder) -> None:
    """Every (epoch, seq) in the client's window was stored and came exactly once, or came in a gap notice.

    The window of an epoch runs from where the client started in it to its last token there; the tail of
    an epoch that Redis lost before the recorder read it is left out (the client was told EPOCH_CHANGED).
    """
    by_epoch: dict[str, list[int]] = {}
    for item in client.received:
        by_epoch.setdefault(item.epoch, []).append(item.seq)
        stored = recorder.stored.get((item.epoch, item.seq))
        recorded_to = recorder.last.get(item.epoch, 0)
        assert stored == item.event_id or (stored is None and item.seq > recorded_to), (
            f"({item.epoch}, {item.seq}) was {item.event_id} at the client, {stored} in the stream"
        )
    gapped = {
        (epoch, seq)
        for epoch, gap in zip(client.gap_epochs, client.state.gaps, strict=True)
        for seq in range(gap.from_seq, gap.to_seq + 1)
        if gap.reason != event_service_pb2.GAP_REASON_EPOCH_CHANGED
    }
    assert client.state.first is not None
    for epoch, seqs in by_epoch.items():
        start = client.state.first[1] if epoch == client.state.first[0] else 0
        end = min(seqs[-1], recorder.last.get(epoch, 0))
        expected = [
            seq
            for (e, seq) in sorted(recorder.stored)
            if e == epoch and start < seq <= end and (e, seq) not in gapped
        ]
        stored = {seq for (e, seq) in recorder.stored if e == epoch}
        told = {seq for (e, seq) in gapped if e == epoch}
        unexplained = sorted(set(range(start + 1, end + 1)) - stored - told)
        assert unexplained == [], (
            f"epoch {epoch}: seqs neither stored nor reported as a gap: {unexplained[:20]}"
        )
        got = [seq for seq in seqs if seq <= end]
        missing, duplicated = sorted(set(expected) - set(got)), len(got) - len(set(got))
        assert (missing, duplicated) == ([], 0), (
            f"epoch {epoch}: missing {missing[:20]}, {duplicated} duplicated"
        )
        assert got == expected


@dataclass
class HealthWatcher:
    """Each role's health over time: a gateway's grpc.health.v1 EventService, the ingest's /health."""

    topology: Topology
    seen: dict[str, list[str]] = field(default_factory=dict)

    async def run(self) -> None:
        while True:
            for index, gateway in enumerate(self.topology.gateways):
                self._note(f"gateway{index}", await _grpc_health(gateway.grpc_port))
            self._note("ingest", await asyncio.to_thread(_http_health, self.topology.ingest.metrics_port))
            await asyncio.sleep(0.2)

    def _note(self, role: str, status: str) -> None:
        states = self.seen.setdefault(role, [])
        if not states or states[-1] != status:
            states.append(status)


async def _grpc_health(port: int | None) -> str:
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            response = await stub.Check(health_pb2.HealthCheckRequest(service=_EVENT_SERVICE), timeout=1)
            return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
    except grpc.aio.AioRpcError:
        raise_if_cancelling()
        return "UNREACHABLE"


def _http_health(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            return str(json.loads(response.read())["status"])
    except urllib.error.HTTPError as error:
        return str(json.loads(error.read())["status"])
    except OSError:
        return "UNREACHABLE"


@contextlib.asynccontextmanager
async def background(*runners: object) -> AsyncIterator[None]:
    """Run each runner's `run()` until the block ends."""
    tasks = [asyncio.create_task(runner.run()) for runner in runners]  # type: ignore[attr-defined]
    try:
        yield
    finally:
        # Re-cancels a task whose library lost the cancellation, so the test cannot hang here.
        await cancel_and_wait(tasks)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
