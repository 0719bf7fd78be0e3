"""Channel credentials for a server that speaks TLS, from PEM files."""

from __future__ import annotations

from pathlib import Path

import grpc

__all__ = ["tls_credentials"]


def tls_credentials(
    *, ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> grpc.ChannelCredentials:
    """Credentials for `AsyncClient(..., credentials=...)`.

    Args:
        ca_file: CA certificates that signed the server's certificate; None trusts the system's roots.
        cert_file: This client's certificate chain, for a server that asks for one (mutual TLS).
        key_file: The private key of `cert_file`; set both or neither.

    Raises:
        ValueError: Only one of `cert_file` and `key_file` is given.
        OSError: A file cannot be read.
    """
    if (cert_file is None) != (key_file is None):
        raise ValueError("a client certificate needs its key: give cert_file and key_file together")
    return grpc.ssl_channel_credentials(
        root_certificates=None if ca_file is None else ca_file.read_bytes(),
        private_key=None if key_file is None else key_file.read_bytes(),
        certificate_chain=None if cert_file is None else cert_file.read_bytes(),
    )
