"""follow_health: a component's health flag drives its service's gRPC health status."""

from __future__ import annotations

import asyncio

from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer

from tickstock_server.api.server import follow_health

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE = "tickstock.v1.MarketDataService"


async def _status(servicer: HealthServicer) -> int:
    response = await servicer.Check(health_pb2.HealthCheckRequest(service=SERVICE), None)  # type: ignore[arg-type]
    return int(response.status)


async def _until(servicer: HealthServicer, status: int) -> None:
    for _ in range(1000):  # 5 s at most
        if await _status(servicer) == status:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"health never became {status}")


async def test_unhealthy_component_turns_its_service_not_serving_and_back() -> None:
    servicer = HealthServicer()
    await servicer.set(SERVICE, SERVING)
    healthy = [True]
    task = asyncio.create_task(follow_health(servicer, SERVICE, lambda: healthy[0], interval_s=0.01))
    try:
        healthy[0] = False
        await _until(servicer, NOT_SERVING)
        healthy[0] = True
        await _until(servicer, SERVING)
    finally:
        task.cancel()


async def test_graceful_shutdown_is_not_undone_by_a_recovering_component() -> None:
    servicer = HealthServicer()
    await servicer.set(SERVICE, SERVING)
    healthy = [False]
    task = asyncio.create_task(follow_health(servicer, SERVICE, lambda: healthy[0], interval_s=0.01))
    try:
        await _until(servicer, NOT_SERVING)
        await servicer.enter_graceful_shutdown()
        healthy[0] = True
        await asyncio.sleep(0.1)

        assert await _status(servicer) == NOT_SERVING
    finally:
        task.cancel()
