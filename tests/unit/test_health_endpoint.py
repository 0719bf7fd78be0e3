"""/health next to /metrics: 200 SERVING while every check holds, 503 NOT_SERVING naming the failing one."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tickstock_server.metrics import ServiceCollector, start_metrics_server


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_health_reports_every_check_and_fails_while_one_is_false() -> None:
    state = {"redis": True, "postgres": True}
    server, _, port = start_metrics_server(
        "127.0.0.1",
        0,
        ServiceCollector([], constant_labels={"role": "ingest"}),
        {name: (lambda name=name: state[name]) for name in state},
    )
    try:
        healthy = _get(port, "/health")
        state["postgres"] = False
        failing = _get(port, "/health")
        metrics = _get(port, "/metrics")
    finally:
        server.shutdown()
        server.server_close()

    assert healthy[0] == 200
    assert json.loads(healthy[1]) == {"status": "SERVING", "checks": {"redis": True, "postgres": True}}
    assert failing[0] == 503
    assert json.loads(failing[1]) == {"status": "NOT_SERVING", "checks": {"redis": True, "postgres": False}}
    assert metrics[0] == 200 and b"process_cpu_seconds_total" in metrics[1]
