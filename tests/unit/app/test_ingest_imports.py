"""The ingest process serves no gRPC, so it loads none of it: the modules its start-up imports (the entry
point, the role dispatch and the ingest role) leave gRPC, protovalidate and the servicers out."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = (
    "import json, sys\n"
    "import tickstock_server.__main__, tickstock_server.app.serve, tickstock_server.app.ingest_role\n"
    "print(json.dumps(sorted(sys.modules)))\n"
)

_GATEWAY_ONLY = ("grpc", "grpc_health", "grpc_reflection", "protovalidate", "tickstock_server.api.server")


def _modules(probe: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    )
    modules: list[str] = json.loads(result.stdout)
    return modules


def test_the_ingest_process_loads_no_grpc() -> None:
    loaded = _modules(_PROBE)

    assert "tickstock_server.app.ingest_role" in loaded
    assert [name for name in loaded if name.startswith(_GATEWAY_ONLY)] == []


def test_the_gateway_role_does_load_it() -> None:
    # The probe above would pass vacuously if the names were wrong: the gateway's imports show them.
    loaded = _modules(_PROBE.replace("tickstock_server.app.ingest_role", "tickstock_server.app.gateway_role"))

    assert {"grpc", "protovalidate", "tickstock_server.api.server"} <= set(loaded)
