"""Every metric the Grafana dashboard queries exists in what real ingest and gateway processes export.

The processes run on a real Redis and PostgreSQL; the test makes the calls and the producer message that
bring the on-demand series into being (RPC latencies, a stream, an authentication failure, a rejected
pattern), then scrapes both `/metrics` endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request
import uuid

import grpc
import redis.asyncio as aioredis
from dashboard_queries import dashboard_queries, load_dashboard
from prometheus_client.parser import text_string_to_metric_families
from server_process import free_port, run_admin, server_env, serving, started, topology_settings

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc
from tickstock_server.producer.channels import ProducerChannels

_TIMEOUT_S = 60.0


def _scrape(port: str) -> set[str]:
    """The sample names (`x_total`, `y_bucket`, ...) a process exports now; empty while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return set()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


async def _exercise(port: int, token: str) -> None:
    """A unary call, a refused one, and a stream that sends its first message and is cancelled."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = event_service_pb2_grpc.EventServiceStub(channel)
        metadata = (("authorization", f"Bearer {token}"),)
        await stub.ListFilterPresets(event_service_pb2.ListFilterPresetsRequest(), metadata=metadata)
        with contextlib.suppress(grpc.aio.AioRpcError):
            await stub.ListFilterPresets(
                event_service_pb2.ListFilterPresetsRequest(), metadata=(("authorization", "Bearer nope"),)
            )
        call = stub.StreamEvents(event_service_pb2.StreamEventsRequest(), metadata=metadata)
        await call.read()
        call.cancel()


async def test_every_metric_the_dashboard_queries_is_exported_by_the_ingest_or_a_gateway(
    pg_database_url: str, redis_url: str
) -> None:
    # Arrange: one ingest and one gateway
    wanted = set().union(*dashboard_queries(load_dashboard()).values())
    common = topology_settings(pg_database_url, redis_url, f"dash-{uuid.uuid4().hex[:8]}:")
    ingest_env = server_env(0, TICKSTOCK_ROLE="ingest", **common)
    port = free_port()
    gateway_env = server_env(port, TICKSTOCK_ROLE="gateway", **common)
    metrics_ports = (ingest_env["TICKSTOCK_METRICS__PORT"], gateway_env["TICKSTOCK_METRICS__PORT"])
    async with started(ingest_env), serving(gateway_env, port):
        token = await run_admin("create-key", "--user", "alice", env=ingest_env)

        # Act: calls, and a malformed pattern until both processes' consumers have rejected one
        await _exercise(port, token)
        client = aioredis.Redis.from_url(redis_url)
        try:
            async with asyncio.timeout(_TIMEOUT_S):
                while True:
                    await client.publish(ProducerChannels().patterns, b"not json")
                    scraped = [await asyncio.to_thread(_scrape, p) for p in metrics_ports]
                    if all("tickstock_patterns_rejected_total" in names for names in scraped):
                        break
                    await asyncio.sleep(0.5)
        finally:
            await client.aclose()

    # Assert
    missing = wanted - scraped[0] - scraped[1]
    assert not missing, f"the dashboard queries metrics no process exports: {sorted(missing)}"
    assert "tickstock_detection_latency_seconds_bucket" in scraped[0]  # the ingest's own
    assert "tickstock_rpc_stream_first_message_seconds_bucket" in scraped[1]  # the gateway's own
