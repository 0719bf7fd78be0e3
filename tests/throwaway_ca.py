"""A throwaway certificate authority for TLS tests, with fixed validity dates.

The dates do not follow the clock: the certificates are valid from 2000 to 2999, and the expired one
ended in 2000, so the tests mean the same at any instant (and under a moved wall clock).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_FROM = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
VALID_UNTIL = dt.datetime(2999, 12, 31, tzinfo=dt.UTC)
EXPIRED_AT = dt.datetime(2000, 1, 2, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, as PEM files."""

    cert_file: Path
    key_file: Path


class ThrowawayCa:
    """A CA whose certificates for `localhost` / 127.0.0.1 (servers) or a user (clients) land in files."""

    def __init__(self, directory: Path, name: str = "tickstock-test-ca") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._dir = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._name = subject
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(VALID_FROM)
            .not_valid_after(VALID_UNTIL)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )  # fmt: skip
            .sign(self._key, hashes.SHA256())
        )
        self.cert_file = directory / f"{name}.pem"
        self.cert_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def server(self, name: str = "server", *, expires: dt.datetime = VALID_UNTIL) -> Issued:
        """A server certificate for localhost and 127.0.0.1."""
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        return self._issue(name, x509.SubjectAlternativeName(names), expires)

    def client(self, name: str = "client") -> Issued:
        """A client certificate for mutual TLS."""
        return self._issue(name, x509.SubjectAlternativeName([x509.DNSName(name)]), VALID_UNTIL)

    def _issue(self, name: str, alt_names: x509.SubjectAlternativeName, expires: dt.datetime) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(VALID_FROM)
            .not_valid_after(expires)
            .add_extension(alt_names, critical=False)
            .sign(self._key, hashes.SHA256())
        )
        issued = Issued(self._dir / f"{name}.pem", self._dir / f"{name}.key")
        issued.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        issued.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return issued
