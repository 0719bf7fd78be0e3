"""The supervise topology's plan: each child's environment, metrics port and argv; what it refuses."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from tickstock_server.__main__ import main
from tickstock_server.app.topology import (
    Backends,
    child_env,
    child_specs,
    gateway_count,
    metrics_ports,
    supervise,
)
from tickstock_server.config import (
    GrpcSettings,
    MetricsSettings,
    Settings,
    SupervisorSettings,
)
from tickstock_server.errors import SupervisorError

BACKENDS = Backends(
    database_url="postgresql://tick:pg-secret@db/tick", redis_url="redis://:redis-secret@cache:6379/0"
)


def _settings(**fields: object) -> Settings:
    return Settings.model_validate(fields)


def _contents(directory: Path) -> list[Path]:
    return list(directory.iterdir())


def test_each_child_gets_its_role_the_backends_its_metrics_port_and_no_envoy() -> None:
    settings = _settings(redis_url="redis://:redis-secret@cache:6379/0")

    env = child_env(
        settings, BACKENDS, {"PATH": "/bin", "TICKSTOCK_FEED__SEED": "7"}, role="gateway", metrics_port=9466
    )

    assert env == {
        "PATH": "/bin",
        "TICKSTOCK_FEED__SEED": "7",
        "TICKSTOCK_ROLE": "gateway",
        "TICKSTOCK_DATABASE_URL": "postgresql://tick:pg-secret@db/tick",
        "TICKSTOCK_REDIS_URL": "redis://:redis-secret@cache:6379/0",
        "TICKSTOCK_METRICS__PORT": "9466",
        "TICKSTOCK_WEB__ENABLED": "false",
        "TICKSTOCK_PATTERNS__SIMULATOR": "off",
    }


def test_the_role_overrides_one_set_in_the_supervisors_environment() -> None:
    env = child_env(_settings(), BACKENDS, {"TICKSTOCK_ROLE": "all"}, role="ingest", metrics_port=9464)

    assert env["TICKSTOCK_ROLE"] == "ingest"


@pytest.mark.parametrize(
    ("simulator", "redis_url", "ingest", "gateway"),
    [
        ("auto", None, "on", "off"),  # embedded Redis: the demo keeps its patterns, published once
        ("auto", "redis://cache", "off", "off"),
        ("on", "redis://cache", "on", "off"),
        ("off", None, "off", "off"),
    ],
)
def test_one_process_at_most_runs_the_producer_simulator(
    simulator: str, redis_url: str | None, ingest: str, gateway: str
) -> None:
    settings = _settings(patterns={"simulator": simulator}, redis_url=redis_url)

    roles = {
        role: child_env(settings, BACKENDS, {}, role=role, metrics_port=0)["TICKSTOCK_PATTERNS__SIMULATOR"]
        for role in ("ingest", "gateway")
    }

    assert roles == {"ingest": ingest, "gateway": gateway}


def test_metrics_ports_count_up_from_the_setting_ingest_first() -> None:
    assert metrics_ports(_settings(metrics=MetricsSettings(port=9464)), 3) == [9464, 9465, 9466, 9467]


def test_metrics_port_zero_lets_every_child_pick_its_own() -> None:
    assert metrics_ports(_settings(metrics=MetricsSettings(port=0)), 2) == [0, 0, 0]


def test_metrics_ports_beyond_65535_are_refused() -> None:
    with pytest.raises(SupervisorError, match="no room for 4 gateways"):
        metrics_ports(_settings(metrics=MetricsSettings(port=65533)), 4)


@pytest.mark.parametrize(("cores", "gateways"), [(6, 5), (2, 1), (1, 1)])
def test_zero_gateways_means_one_per_core_beyond_the_ingest(
    monkeypatch: pytest.MonkeyPatch, cores: int, gateways: int
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)

    assert gateway_count(_settings(supervisor=SupervisorSettings(gateways=0))) == gateways
    assert gateway_count(_settings(supervisor=SupervisorSettings(gateways=3))) == 3


def test_children_are_ingest_then_the_gateways_serving_with_no_secret_in_argv() -> None:
    specs = child_specs(_settings(), BACKENDS, {}, [9464, 9465, 9466])

    assert [spec.name for spec in specs] == ["ingest", "gateway-0", "gateway-1"]
    assert [spec.env["TICKSTOCK_ROLE"] for spec in specs] == ["ingest", "gateway", "gateway"]
    assert [spec.env["TICKSTOCK_METRICS__PORT"] for spec in specs] == ["9464", "9465", "9466"]
    assert all(tuple(spec.argv) == (sys.executable, "-m", "tickstock_server", "serve") for spec in specs)
    assert "secret" not in repr(BACKENDS)


def test_supervise_refuses_grpc_port_zero_with_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TICKSTOCK_GRPC__PORT", "0")

    assert main(["supervise"]) == 2
    assert "TICKSTOCK_GRPC__PORT: supervise needs a fixed port" in capsys.readouterr().err


async def test_supervise_refuses_a_grpc_port_something_listens_on(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = _settings(
            data_dir=tmp_path, grpc=GrpcSettings(host="127.0.0.1", port=port), metrics=MetricsSettings(port=0)
        )

        with pytest.raises(SupervisorError, match=f"the gRPC port {port} is in use"):
            await supervise(settings, asyncio.Event())

    assert _contents(tmp_path) == []  # refused before any server started


async def test_a_stop_before_the_start_ends_supervise_without_starting_anything(tmp_path: Path) -> None:
    stop = asyncio.Event()
    stop.set()

    with socket.socket() as probe:  # a free port: the check of taken ports passes, should it run
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = _settings(
        data_dir=tmp_path, grpc=GrpcSettings(port=port), metrics=MetricsSettings(enabled=False)
    )

    await supervise(settings, stop)

    assert _contents(tmp_path) == []
