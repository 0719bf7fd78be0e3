"""The CLI's TLS options: --tls, --ca, --cert and --cert-key (or TICKSTOCK_TLS_* in the environment)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import grpc

from tickstock_client._cli_args import UsageError
from tickstock_client._tls import tls_credentials


def add_tls_options(parser: argparse.ArgumentParser) -> None:
    """Add the TLS options to the top-level parser."""
    group = parser.add_argument_group("TLS (any of --ca, --cert implies --tls)")
    group.add_argument(
        "--tls",
        action="store_true",
        default=os.environ.get("TICKSTOCK_TLS", "") in ("1", "true"),
        help="connect with TLS, trusting the system's CAs (env TICKSTOCK_TLS=1)",
    )
    group.add_argument(
        "--ca",
        type=Path,
        default=_env_path("TICKSTOCK_TLS_CA"),
        help="CA file the server's certificate chains to",
    )
    group.add_argument(
        "--cert",
        type=Path,
        default=_env_path("TICKSTOCK_TLS_CERT"),
        help="client certificate, for a server that requires one (mutual TLS)",
    )
    group.add_argument(
        "--cert-key", type=Path, default=_env_path("TICKSTOCK_TLS_KEY"), help="private key of --cert"
    )


def credentials(args: argparse.Namespace) -> grpc.ChannelCredentials | None:
    """Channel credentials from the options; None for plaintext."""
    if not (args.tls or args.ca or args.cert or args.cert_key):
        return None
    try:
        return tls_credentials(ca_file=args.ca, cert_file=args.cert, key_file=args.cert_key)
    except (OSError, ValueError) as exc:
        raise UsageError(f"TLS: {exc}") from None


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "")
    return Path(value) if value else None
