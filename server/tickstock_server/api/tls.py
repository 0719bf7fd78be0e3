"""TLS for the gRPC listener: certificate and key files, re-read when they change, and optional mutual TLS.

gRPC asks `_CertificateFiles.fetch` before each new handshake; it returns a new configuration only when a
file's modification time or size changed, so a renewed certificate (certbot, cert-manager) is used by the
next connection without a restart, and connections already open keep theirs. A file caught half-written
fails to load: the previous configuration stays, with a warning, and the next handshake tries again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import grpc

_logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerTls:
    """Where the listener's certificate chain, its key and (for mutual TLS) the client CA are."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    """With it, clients must present a certificate signed by this CA; without, none is asked for."""


class _CertificateFiles:
    def __init__(self, tls: ServerTls) -> None:
        self._tls = tls
        self._lock = threading.Lock()  # gRPC may fetch from several of its threads
        self._loaded: tuple[tuple[int, int], ...] = ()

    def _files(self) -> list[Path]:
        files = [self._tls.cert_file, self._tls.key_file]
        return files if self._tls.client_ca_file is None else [*files, self._tls.client_ca_file]

    def _stamps(self) -> tuple[tuple[int, int], ...]:
        return tuple((s.st_mtime_ns, s.st_size) for s in (path.stat() for path in self._files()))

    def load(self) -> grpc.ServerCertificateConfiguration:
        """Read the files now (raises OSError or ValueError when they are missing or empty)."""
        stamps = self._stamps()
        cert, key = self._tls.cert_file.read_bytes(), self._tls.key_file.read_bytes()
        ca = None if self._tls.client_ca_file is None else self._tls.client_ca_file.read_bytes()
        if not cert.strip() or not key.strip() or (ca is not None and not ca.strip()):
            raise ValueError("a TLS file is empty")
        self._loaded = stamps
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """A new configuration when a file changed since the last load, else None (keep the current)."""
        with self._lock:
            try:
                if self._stamps() == self._loaded:
                    return None
                configuration = self.load()
            except (OSError, ValueError) as exc:
                _logger.warning("cannot reload the TLS certificate (%s); keeping the loaded one", exc)
                return None
        _logger.info("reloaded the TLS certificate from %s", self._tls.cert_file)
        return configuration


def server_credentials(tls: ServerTls) -> grpc.ServerCredentials:
    """Credentials that re-read `tls`' files when they change (see the module docstring).

    Raises:
        OSError, ValueError: A file is missing, unreadable or empty at start.
    """
    files = _CertificateFiles(tls)
    return grpc.dynamic_ssl_server_credentials(
        files.load(),
        files.fetch,  # type: ignore[arg-type]  # None keeps the current configuration (grpc-stubs omit it)
        require_client_authentication=tls.client_ca_file is not None,
    )
