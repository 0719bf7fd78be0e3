"""The split topology as real processes: one ingest and two gateways on a real Redis and PostgreSQL.

The stored Redis Stream is the ground truth: a client that moves between gateways, or loses its
gateway to SIGKILL, must receive exactly the stored events its filter selects, with no gap and no
duplicate. Each gateway listens on a port of its own here, so a test can choose which one a client
talks to; sharing one port (SO_REUSEPORT) is checked separately.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from polling import eventually
from resuming_client import ResumingClient
from server_process import free_port, run_admin, server_env, serving, started, topology_settings
from topology_streams import read_stream, stored_events

from tickstock.v1 import event_service_pb2, events_pb2
from tickstock_server.simulation.market import synthetic_symbols

FEED_SYMBOLS = 400
"""Symbols of the ingest's synthetic feed: enough that the selected ones have events every second."""
SYMBOLS = list(synthetic_symbols(FEED_SYMBOLS)[:200])
TYPES = {"high", "low", "trend", "surge"}


@dataclass
class Topology:
    env: dict[str, str]
    """The ingest's environment."""
    gateway_env: dict[str, str]
    """A gateway's settings, without its port."""
    gateway_ports: list[int]
    gateway_metrics_ports: list[str]
    ingest: asyncio.subprocess.Process
    gateways: list[asyncio.subprocess.Process]
    prefix: str
    metadata: tuple[tuple[str, str], ...] = ()


@contextlib.asynccontextmanager
async def _topology(pg_database_url: str, redis_url: str, *, simulator: str) -> AsyncIterator[Topology]:
    """An ingest (running the producer simulator when `simulator` is "on") and two gateways."""
    prefix = f"split-{uuid.uuid4().hex[:8]}:"
    common = topology_settings(pg_database_url, redis_url, prefix)
    ports = [free_port(), free_port()]
    ingest_env = server_env(
        0,
        TICKSTOCK_ROLE="ingest",
        **{
            **common,
            "TICKSTOCK_PATTERNS__SIMULATOR": simulator,
            "TICKSTOCK_FEED__SYMBOLS": str(FEED_SYMBOLS),
        },
    )
    gateway_env = {"TICKSTOCK_ROLE": "gateway", **common}
    async with contextlib.AsyncExitStack() as stack:
        ingest_process = await stack.enter_async_context(started(ingest_env))
        try:
            gateway_envs = [server_env(port, **gateway_env) for port in ports]
            gateways = [
                await stack.enter_async_context(serving(env, port))
                for env, port in zip(gateway_envs, ports, strict=True)
            ]
        except AssertionError as exc:  # gateways wait for the ingest: say what it did
            ingest_process.output.seek(0)
            tail = ingest_process.output.read()[-3000:].decode(errors="replace")
            raise AssertionError(f"{exc}\nthe ingest's output ends:\n{tail}") from exc
        ingest = ingest_process.process
        token = await run_admin("create-key", "--user", "alice", env=ingest_env)
        metrics_ports = [env["TICKSTOCK_METRICS__PORT"] for env in gateway_envs]
        metadata = (("authorization", f"Bearer {token}"),)
        yield Topology(ingest_env, gateway_env, ports, metrics_ports, ingest, gateways, prefix, metadata)


@pytest.fixture
async def topology(pg_database_url: str, redis_url: str) -> AsyncIterator[Topology]:
    async with _topology(pg_database_url, redis_url, simulator="off") as topology:
        yield topology


@pytest.fixture
async def simulated_topology(pg_database_url: str, redis_url: str) -> AsyncIterator[Topology]:
    """The topology with the producer simulator on the ingest (the gateways run none)."""
    async with _topology(pg_database_url, redis_url, simulator="on") as topology:
        yield topology


async def _read(
    topology: Topology,
    port: int,
    client: ResumingClient,
    *,
    event_filter: event_service_pb2.EventFilter | None = None,
    **options: Any,
) -> None:
    """Stream from the gateway on `port` (options: see `read_stream`); the filter selects `SYMBOLS`
    unless `event_filter` is given."""
    if event_filter is None:
        event_filter = event_service_pb2.EventFilter(symbols=SYMBOLS)
    await read_stream(port, topology.metadata, client, event_filter, **options)


async def _stored_seqs(
    topology: Topology, redis_url: str, after: int, until: int, *, patterns: bool = False
) -> list[int]:
    """Seqs of the stored events `_read` selects: of `SYMBOLS` and the detectors' types, or every pattern."""
    stored = await stored_events(redis_url, topology.prefix, after, until)
    if patterns:
        return [e.seq for e in stored if e.fields.type == "pattern"]
    return [e.seq for e in stored if e.fields.symbol in SYMBOLS and e.fields.type in TYPES]


async def test_a_client_resumes_on_the_other_gateway_with_exactly_the_missed_events(
    topology: Topology, redis_url: str
) -> None:
    client = ResumingClient()
    await _read(topology, topology.gateway_ports[0], client, events=30)
    assert client.token is not None
    away = client.token

    async def missed() -> int:  # selected events stored while the client is away
        return len(await _stored_seqs(topology, redis_url, away[1], 2**62))

    await eventually(lambda: _at_least(missed(), 10), 60, 0.2)
    await _read(topology, topology.gateway_ports[1], client, until="replay_completed")
    await _read(topology, topology.gateway_ports[1], client, events=10)

    assert client.first is not None and client.token is not None
    expected = await _stored_seqs(topology, redis_url, client.first[1], client.token[1])
    assert len([seq for seq in expected if seq > away[1]]) >= 10, "the resume must replay something"
    assert client.seqs == expected
    assert client.gaps == []


async def _at_least(count: Awaitable[int], minimum: int) -> bool:
    return await count >= minimum


async def test_a_client_of_a_killed_gateway_resumes_on_the_other_with_zero_loss(
    topology: Topology, redis_url: str
) -> None:
    client = ResumingClient()
    await _read(topology, topology.gateway_ports[0], client, events=30)
    reading = asyncio.create_task(_read(topology, topology.gateway_ports[0], client, events=100_000))
    await asyncio.sleep(0.5)  # the stream is open and delivering
    topology.gateways[0].send_signal(signal.SIGKILL)
    with pytest.raises(grpc.aio.AioRpcError) as cut:
        await reading
    assert cut.value.code() is grpc.StatusCode.UNAVAILABLE
    await _read(topology, topology.gateway_ports[1], client, until="replay_completed")
    await _read(topology, topology.gateway_ports[1], client, events=10)

    assert client.first is not None and client.token is not None
    expected = await _stored_seqs(topology, redis_url, client.first[1], client.token[1])
    assert client.seqs == expected
    assert client.gaps == []


async def test_a_restarted_ingest_ends_streams_with_a_rotation_and_the_resume_reports_the_new_epoch(
    topology: Topology,
) -> None:
    client = ResumingClient()
    await _read(topology, topology.gateway_ports[0], client, events=10)
    old_epoch = client.token[0] if client.token else ""
    reading = asyncio.create_task(_read(topology, topology.gateway_ports[0], client, until="rotate_hint"))
    await asyncio.sleep(0.5)
    topology.ingest.send_signal(signal.SIGKILL)
    await topology.ingest.wait()
    async with started(topology.env):  # the synthetic feed starts its history again: a new epoch
        await reading
        assert client.rotations == [event_service_pb2.ROTATE_REASON_LOG_RESTARTED]
        assert client.token is not None and client.token[0] == old_epoch

        async def resumed_in_the_new_epoch() -> bool:
            # The other gateway may not have seen the new epoch yet: until it has, the client's old
            # token is still valid there (a resume with nothing missed); then it reports the change.
            await _read(topology, topology.gateway_ports[1], client, until="replay_completed")
            return client.token is not None and client.token[0] != old_epoch

        await eventually(resumed_in_the_new_epoch, 30, 0.2)

    assert [gap.reason for gap in client.gaps] == [event_service_pb2.GAP_REASON_EPOCH_CHANGED]


async def test_a_second_gateway_on_the_same_port_serves_when_the_first_is_gone(topology: Topology) -> None:
    port = topology.gateway_ports[0]
    async with started(server_env(port, **topology.gateway_env)) as third:
        await third.logged("serving on port")  # bound while the first still listens: SO_REUSEPORT
        topology.gateways[0].send_signal(signal.SIGKILL)
        await topology.gateways[0].wait()
        client = ResumingClient()
        await _read(topology, port, client, events=5)

    assert len(client.seqs) >= 5


async def test_each_role_reports_its_own_health_next_to_its_metrics(topology: Topology) -> None:
    ingest = await _health(topology.env["TICKSTOCK_METRICS__PORT"])
    gateway = await _health(topology.gateway_metrics_ports[0])

    assert ingest == {"status": "SERVING", "checks": {"bar_writer": True, "event_stream": True}}
    assert gateway == {"status": "SERVING", "checks": {"event_stream": True, "producer": True}}


async def _health(port: str) -> object:
    url = f"http://127.0.0.1:{port}/health"
    return json.loads(await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read()))


# Not marked wall_clock, although the simulator stamps patterns with the wall clock: the all-in-one
# test in test_server_process.py runs the same pattern-to-event conversion at every pinned instant, and
# this one's three processes would add minutes to CI there. It still runs in the Sunday whole-suite run.
async def test_simulator_patterns_stream_within_10_s_and_resume_on_the_other_gateway(
    simulated_topology: Topology, redis_url: str
) -> None:
    topology, client = simulated_topology, ResumingClient()
    patterns = event_service_pb2.EventFilter(event_types=[events_pb2.EVENT_TYPE_PATTERN])
    # Issue #15: a stream of pattern events delivers the simulator's patterns within 10 s of its start.
    await _read(topology, topology.gateway_ports[0], client, events=3, timeout_s=10, event_filter=patterns)
    await asyncio.sleep(2.0)  # patterns go by while the client is away (the simulator sends 5 per second)
    away_from = client.seqs[-1]
    await _read(topology, topology.gateway_ports[1], client, until="replay_completed", event_filter=patterns)
    await _read(topology, topology.gateway_ports[1], client, events=2, event_filter=patterns)

    assert client.first is not None and client.token is not None
    expected = await _stored_seqs(topology, redis_url, client.first[1], client.token[1], patterns=True)
    assert client.seqs == expected
    assert client.gaps == []
    assert len([seq for seq in client.seqs if seq > away_from]) >= 5, "patterns must go by while away"
    assert {event.type for event in client.events} == {events_pb2.EVENT_TYPE_PATTERN}
    assert {event.pattern.source for event in client.events} == {events_pb2.PATTERN_SOURCE_PRODUCER}
    assert len({event.event_id for event in client.events}) == len(client.events)


async def test_a_gateway_waiting_for_its_ingest_stops_on_sigterm(
    pg_database_url: str, redis_url: str
) -> None:
    env = server_env(
        free_port(),
        TICKSTOCK_ROLE="gateway",
        TICKSTOCK_DATABASE_URL=pg_database_url,
        TICKSTOCK_REDIS_URL=redis_url,
        TICKSTOCK_DELIVERY__STREAM_KEY_PREFIX=f"split-{uuid.uuid4().hex[:8]}:",  # no ingest writes it
    )
    async with started(env) as gateway:
        await gateway.logged("waiting for the ingest process")
        gateway.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(gateway.process.wait(), 30)
        await gateway.logged("stopped while starting")

    assert code == 0
