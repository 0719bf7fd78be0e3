"""What `tickstock-server supervise` runs on one host: an ingest process and N gateways behind one port.

Start order (the stop order is its reverse):

1. PostgreSQL and Redis, embedded under `data_dir` in this process when their URLs are unset (else the
   configured servers). Every child gets their URLs in its environment, never on its command line.
2. The ingest process (``TICKSTOCK_ROLE=ingest``): the feed, detection, bars and the event stream's
   writer. Started first, it also brings the schema up to date before any gateway opens the database.
3. Envoy, when `web.enabled`, in front of the shared gRPC port. It only needs the upstream's address, so
   it starts before the gateways and therefore stops after them: the last trailers of their streams
   (the rotation hints with resume tokens) still pass through it. Until the first gateway is up it
   answers browsers with UNAVAILABLE. It runs as `serve` runs it: not restarted should it exit.
4. N gateways (``TICKSTOCK_ROLE=gateway``, `supervisor.gateways`, 0 = one per CPU core beyond the
   ingest's): every gRPC service, all bound to `grpc.port` with SO_REUSEPORT, following the event
   stream from Redis. They stop all at once (each gets the gRPC grace period), not one after another.

A child is ready when its own metrics endpoint answers (`/metrics` on `metrics.port` for ingest,
`metrics.port` + 1 + i for gateway i): the gRPC port is shared, so its health does not tell which
gateway answered. With metrics disabled or on port 0 (ports the supervisor cannot know), a child is
ready once it stayed up 2 s. A child that exits later is restarted (see `supervisor.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr

from tickstock_server.app.supervisor import (
    ChildSpec,
    ReadinessCheck,
    Supervisor,
    SupervisorTimings,
    alive_for,
    http_answers,
)
from tickstock_server.config import Settings
from tickstock_server.edge.embedded_envoy import EmbeddedEnvoy, web_front_config
from tickstock_server.edge.envoy_config import local_upstream
from tickstock_server.embedded import EmbeddedPostgres, EmbeddedRedis
from tickstock_server.errors import SupervisorError
from tickstock_server.support.blocking_start import start_in_thread

_logger = logging.getLogger(__name__)

SUPERVISE_HELP = """\
Runs the server as several processes on this host:
  - PostgreSQL and Redis, embedded under TICKSTOCK_DATA_DIR unless TICKSTOCK_DATABASE_URL and
    TICKSTOCK_REDIS_URL are set;
  - one ingest process (the feed, detection, bars; it writes events to a Redis Stream);
  - Envoy for browsers (grpc-web and the dashboard), unless TICKSTOCK_WEB__ENABLED=false;
  - TICKSTOCK_SUPERVISOR__GATEWAYS gateway processes (0: one per CPU core beyond the ingest's), serving
    every gRPC service, all on TICKSTOCK_GRPC__PORT (which must not be 0), following the Redis Stream.
Each starts once the one before is ready: its metrics endpoint answers (ingest on TICKSTOCK_METRICS__PORT,
gateway i on that port + 1 + i), or, with metrics off or on port 0, it stayed up 2 s. A process that
exits is restarted after a backoff (0.5 s doubling up to TICKSTOCK_SUPERVISOR__RESTART_MAX_S). SIGTERM or
Ctrl-C stops them in reverse order: the gateways, Envoy, ingest, then Redis and PostgreSQL. Every other
setting (tickstock-server --help) reaches every process.
"""

_READY_TIMEOUT_S = 60.0
_STOP_MARGIN_S = 20.0  # beyond the gRPC grace period: the ingest side drains its bars and the stream
_ALIVE_AS_READY_S = 2.0
# The producer simulator publishes patterns to Redis: one process runs it, not every gateway.
_SIMULATOR_ROLE = "ingest"


@dataclass(frozen=True, slots=True)
class Backends:
    """The URLs every child connects to; secrets (a URL may carry a password), never logged."""

    database_url: str = field(repr=False)
    redis_url: str = field(repr=False)


async def supervise(settings: Settings, stop: asyncio.Event) -> None:
    """Run the topology (see the module docstring) until `stop` is set, then stop it in reverse order.

    `stop` set while the processes start cancels the start: what started is stopped.

    Raises:
        SupervisorError: A process did not start (or a port it needs is taken).
    """
    async with contextlib.AsyncExitStack() as stack:
        stopping = asyncio.create_task(stop.wait(), name="supervise-stop")
        starting = asyncio.create_task(_start(settings, stack), name="supervise-start")
        try:
            try:
                await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not starting.done():
                    _logger.info("stopping before every process started")
                    starting.cancel()
                    await asyncio.wait([starting])
            if not starting.cancelled():
                starting.result()  # a failed start raises here, and what it started stops
                await stopping
        finally:
            stopping.cancel()
        _logger.info("shutting down")
    _logger.info("stopped")


async def _start(settings: Settings, stack: contextlib.AsyncExitStack) -> None:
    gateways = gateway_count(settings)
    ports = metrics_ports(settings, gateways)
    await _refuse_taken_ports(settings, ports)
    backends = Backends(
        database_url=await _url_or_embedded(
            stack, settings.database_url, EmbeddedPostgres(settings.data_dir / "postgres")
        ),
        redis_url=await _url_or_embedded(
            stack, settings.redis_url, EmbeddedRedis(settings.data_dir / "redis")
        ),
    )
    timings = SupervisorTimings(
        ready_s=_READY_TIMEOUT_S,
        stop_s=settings.grpc.shutdown_grace_s + _STOP_MARGIN_S,
        restart_max_s=settings.supervisor.restart_max_s,
    )
    ingest, *gateway_specs = child_specs(settings, backends, os.environ, ports)
    await stack.enter_async_context(Supervisor([ingest], timings).running())
    if settings.web.enabled:
        envoy = EmbeddedEnvoy(
            settings.data_dir / "envoy",
            web_front_config(
                settings.web,
                local_upstream(settings.grpc.host, settings.grpc.port),
                upstream_has_tls=settings.grpc.tls_cert_file is not None,
            ),
            concurrency=settings.web.concurrency,
        )
        await start_in_thread(stack, envoy.start, envoy.stop)
    await stack.enter_async_context(Supervisor(gateway_specs, timings, stop_together=True).running())
    _logger.info(
        "supervising ingest and %d gateways on gRPC port %d",
        gateways,
        settings.grpc.port,
        extra={"gateways": gateways, "port": settings.grpc.port},
    )


def gateway_count(settings: Settings) -> int:
    """Gateway processes to run: the setting, or when it is 0 one per CPU core the ingest leaves (at least 1).

    On 2 cores one gateway beat two at 1,000 streams (p99 57 ms against 82 ms, `docs/performance.md`):
    the ingest process, Redis and a second event loop all compete for the same cores.
    """
    return settings.supervisor.gateways or max((os.cpu_count() or 1) - 1, 1)


def metrics_ports(settings: Settings, gateways: int) -> list[int]:
    """The metrics port of ingest, then of each gateway: `metrics.port` + 0, 1, 2...; all 0 when it is 0.

    Raises:
        SupervisorError: The last gateway's port would exceed 65535.
    """
    base = settings.metrics.port
    if base == 0:
        return [0] * (gateways + 1)
    if base + gateways > 65535:
        raise SupervisorError(
            f"TICKSTOCK_METRICS__PORT {base} leaves no room for {gateways} gateways' ports above it"
        )
    return [base + index for index in range(gateways + 1)]


def child_specs(
    settings: Settings, backends: Backends, environ: Mapping[str, str], ports: list[int]
) -> list[ChildSpec]:
    """Ingest, then the gateways: `tickstock_server serve` with this environment plus their role's."""
    argv = (sys.executable, "-m", "tickstock_server", "serve")
    names = ["ingest", *(f"gateway-{index}" for index in range(len(ports) - 1))]
    return [
        ChildSpec(
            name=name,
            argv=argv,
            env=child_env(settings, backends, environ, role=name.partition("-")[0], metrics_port=port),
            ready=_readiness(settings, port),
        )
        for name, port in zip(names, ports, strict=True)
    ]


def child_env(
    settings: Settings, backends: Backends, environ: Mapping[str, str], *, role: str, metrics_port: int
) -> dict[str, str]:
    """`environ` plus the role, the backends' URLs, its own metrics port, no Envoy, the simulator's switch."""
    simulator = settings.patterns.simulator
    runs_simulator = simulator == "on" or (simulator == "auto" and settings.redis_url is None)
    return {
        **environ,
        "TICKSTOCK_ROLE": role,
        "TICKSTOCK_DATABASE_URL": backends.database_url,
        "TICKSTOCK_REDIS_URL": backends.redis_url,
        "TICKSTOCK_METRICS__PORT": str(metrics_port),
        "TICKSTOCK_WEB__ENABLED": "false",
        # With the URLs set, "auto" would turn it off everywhere; with "on", every gateway would run one.
        "TICKSTOCK_PATTERNS__SIMULATOR": "on" if runs_simulator and role == _SIMULATOR_ROLE else "off",
    }


def _readiness(settings: Settings, metrics_port: int) -> ReadinessCheck:
    if not settings.metrics.enabled or metrics_port == 0:
        return alive_for(_ALIVE_AS_READY_S)
    return http_answers(local_upstream(settings.metrics.host, metrics_port).host, metrics_port, "/metrics")


async def _refuse_taken_ports(settings: Settings, metrics: list[int]) -> None:
    """Refuse to start next to something that already listens on our ports.

    A gateway left over from an earlier run (its supervisor killed) would share the gRPC port silently
    (SO_REUSEPORT), and one on a metrics port would pass for a new child's readiness.
    """
    wanted = [("gRPC", settings.grpc.host, settings.grpc.port)]
    if settings.metrics.enabled:
        wanted += [("metrics", settings.metrics.host, port) for port in metrics if port != 0]
    for what, host, port in wanted:
        if await _listening(local_upstream(host, port).host, port):
            raise SupervisorError(
                f"the {what} port {port} is in use (is another TickStock server still running?)"
            )


async def _listening(host: str, port: int) -> bool:
    try:
        async with asyncio.timeout(1.0):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _url_or_embedded(
    stack: contextlib.AsyncExitStack, url: SecretStr | None, embedded: EmbeddedPostgres | EmbeddedRedis
) -> str:
    """The configured URL; else start `embedded` (stopped when `stack` closes) and return its URL."""
    if url is not None:
        return url.get_secret_value()
    await start_in_thread(stack, embedded.start, embedded.stop)
    return embedded.url
