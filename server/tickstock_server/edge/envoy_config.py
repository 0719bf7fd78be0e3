"""Renders the Envoy config template (`envoy/envoy.yaml`) for given listener, upstreams, origins and files."""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_logger = logging.getLogger(__name__)

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[3] / "envoy" / "envoy.yaml"
"""The template in the source checkout (the project is installed editable from it)."""

MAX_STATIC_FILE_BYTES = 8 * 1024 * 1024
"""Largest dashboard file Envoy serves, bytes; Envoy keeps every file in memory."""

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".wasm": "application/wasm",
}
# Paths Envoy matches literally and browsers send unescaped.
_SERVABLE_PATH = re.compile(r"[A-Za-z0-9._~/-]+")
# A placeholder alone on its line stands for a block of lines, each indented like the placeholder.
_BLOCK_PLACEHOLDER = re.compile(r"^(?P<indent>[ ]*)\$\{(?P<name>[a-z_]+)\}[ ]*$", re.MULTILINE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Upstream:
    """One gRPC server replica."""

    host: str
    """IP address or DNS name."""
    port: int
    """TCP port."""

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class CertificateFiles:
    """A PEM certificate chain and its private key, read by Envoy when it starts."""

    cert_file: Path
    key_file: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamTls:
    """TLS from Envoy to the gRPC replicas."""

    ca_file: Path | None = None
    """The CA the replicas' certificates chain to; None: encrypted but not verified."""
    client: CertificateFiles | None = None
    """Envoy's own certificate, for replicas that require one (mutual TLS)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvoyConfig:
    """What the template needs: where browsers connect, which replicas serve them, who may call."""

    listen_host: str
    """IP address of the browser listener ("0.0.0.0" or "::" for every interface)."""
    listen_port: int
    """TCP port of the browser listener; 0 lets the kernel pick one."""
    admin_port: int
    """TCP port of the admin interface on 127.0.0.1; 0 lets the kernel pick one."""
    upstreams: tuple[Upstream, ...]
    """gRPC server replicas, balanced by least open requests and health-checked."""
    allowed_origins: tuple[str, ...] = ()
    """Origins (scheme://host[:port]) allowed across origins, besides the listener's own; "*" is any."""
    static_dir: Path | None = None
    """Directory of the dashboard's files; None or missing: no static routes."""
    max_static_file_bytes: int = field(default=MAX_STATIC_FILE_BYTES)
    """Files larger than this are skipped (with a warning), bytes."""
    downstream_tls: CertificateFiles | None = None
    """The listener's certificate: browsers then connect with https only; None: plain http."""
    upstream_tls: UpstreamTls | None = None
    """TLS to the replicas (when their gRPC port has it); None: plaintext HTTP/2."""


def parse_upstream(text: str) -> Upstream:
    """Parse "host:port" or "[ipv6]:port".

    Raises:
        ValueError: Not of that form, or the port is out of range.
    """
    match = re.fullmatch(r"\[(?P<v6>[0-9A-Fa-f:.]+)\]:(?P<port>\d+)|(?P<host>[^:\s\[\]]+):(?P<p>\d+)", text)
    if match is None:
        raise ValueError(f"{text!r} is not host:port")
    host = match["v6"] or match["host"]
    port = int(match["port"] or match["p"])
    if not 0 < port < 65536:
        raise ValueError(f"{text!r}: port out of range")
    return Upstream(host=host, port=port)


def local_upstream(grpc_host: str, grpc_port: int) -> Upstream:
    """The address Envoy on this machine reaches a server bound to `grpc_host`:`grpc_port` at.

    A server bound to every interface ("[::]", "0.0.0.0") is reached over IPv4 loopback.
    """
    host = grpc_host.removeprefix("[").removesuffix("]")
    if host in ("", "::", "0.0.0.0", "localhost"):
        host = "127.0.0.1"
    return Upstream(host=host, port=grpc_port)


def own_origins(listen_host: str, listen_port: int, scheme: str = "http") -> tuple[str, ...]:
    """The origins of pages Envoy itself serves: scheme://host:port under every local name of the host.

    None when the port is not known in advance (0).
    """
    if listen_port == 0:
        return ()
    hosts = ["localhost", "127.0.0.1", "[::1]"]
    address = ipaddress.ip_address(listen_host)
    if not address.is_unspecified and not address.is_loopback:
        hosts.append(f"[{address}]" if address.version == 6 else str(address))
    # Browsers leave the scheme's default port out of the Origin header.
    suffix = "" if listen_port == {"http": 80, "https": 443}[scheme] else f":{listen_port}"
    return tuple(f"{scheme}://{host}{suffix}" for host in hosts)


def static_routes(
    static_dir: Path | None, max_file_bytes: int = MAX_STATIC_FILE_BYTES
) -> list[dict[str, Any]]:
    """One exact-path route per file under `static_dir` answering it from disk, and "/" for index.html.

    Envoy reads the files when it loads the config; a rebuilt dashboard needs an Envoy restart.
    """
    if static_dir is None:
        return []
    directory = static_dir.resolve()
    if not directory.is_dir():
        _logger.info("no dashboard files at %s: Envoy serves grpc-web only", directory)
        return []
    routes = []
    for path in sorted(_files(directory)):
        relative = path.relative_to(directory).as_posix()
        size = path.stat().st_size
        if not _SERVABLE_PATH.fullmatch(relative):
            _logger.warning("not serving %s: its name needs URL escaping", path)
            continue
        if size > max_file_bytes:
            _logger.warning("not serving %s: %d bytes exceed the %d-byte limit", path, size, max_file_bytes)
            continue
        if relative == "index.html":
            routes.append(_file_route("/", path))
        routes.append(_file_route(f"/{relative}", path))
    if not routes:
        _logger.info("no dashboard files in %s: Envoy serves grpc-web only", directory)
    return routes


def _files(directory: Path) -> Iterator[Path]:
    for path in directory.rglob("*"):
        relative = path.relative_to(directory)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            yield path


def _file_route(url_path: str, file: Path) -> dict[str, Any]:
    content_type = _CONTENT_TYPES.get(file.suffix.lower(), "application/octet-stream")
    return {
        "match": {
            "path": url_path,
            "headers": [{"name": ":method", "string_match": {"safe_regex": {"regex": "GET|HEAD"}}}],
        },
        "direct_response": {"status": 200, "body": {"filename": str(file)}},
        "response_headers_to_add": [
            {
                "header": {"key": "content-type", "value": content_type},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            },
            # The bundle's file names carry no content hash: browsers revalidate every time.
            {"header": {"key": "cache-control", "value": "no-cache"}},
        ],
    }


def cors_origin_matchers(config: EnvoyConfig) -> list[dict[str, Any]]:
    """Envoy string matchers for the allowed origins: the configured ones and the listener's own."""
    scheme = "http" if config.downstream_tls is None else "https"
    own = own_origins(config.listen_host, config.listen_port, scheme)
    origins = dict.fromkeys((*own, *config.allowed_origins))
    if "*" in origins:
        return [{"safe_regex": {"regex": ".*"}}]
    return [{"exact": origin} for origin in origins]


def render_envoy_config(template: str, config: EnvoyConfig) -> str:
    """The template with every placeholder filled in from `config`.

    Raises:
        ValueError: No upstream, a listen host that is not an IP address, or a placeholder the template
            has and this function does not fill in.
    """
    if not config.upstreams:
        raise ValueError("at least one upstream is needed")
    listen = ipaddress.ip_address(config.listen_host)
    all_ips = all(_is_ip(upstream.host) for upstream in config.upstreams)
    blocks = {
        "static_routes": [
            f"- {_flow(route)}" for route in static_routes(config.static_dir, config.max_static_file_bytes)
        ],
        "downstream_tls": _transport_socket(_downstream_tls(config.downstream_tls)),
        "upstream_tls": _transport_socket(_upstream_tls(config.upstream_tls)),
    }
    values = {
        "listen_address": str(listen),
        "listen_port": str(config.listen_port),
        "ipv4_compat": _flow(listen.version == 6 and listen.is_unspecified),
        "admin_port": str(config.admin_port),
        "cors_origins": _flow(cors_origin_matchers(config)),
        "max_static_file_bytes": str(config.max_static_file_bytes),
        # DNS names are resolved by Envoy (and re-resolved as they change); IP addresses need no resolver.
        "cluster_type": "STATIC" if all_ips else "STRICT_DNS",
        "lb_endpoints": _flow(
            [
                {"endpoint": {"address": {"socket_address": {"address": u.host, "port_value": u.port}}}}
                for u in config.upstreams
            ]
        ),
    }
    return _substitute(template, blocks, values)


_TLS_SOCKET = "envoy.transport_sockets.tls"
_TLS_TYPES = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."


def _certificate(files: CertificateFiles) -> dict[str, Any]:
    return {
        "certificate_chain": {"filename": str(files.cert_file)},
        "private_key": {"filename": str(files.key_file)},
    }


def _downstream_tls(files: CertificateFiles | None) -> dict[str, Any] | None:
    if files is None:
        return None
    context = {"tls_certificates": [_certificate(files)], "alpn_protocols": ["h2", "http/1.1"]}
    return {"@type": _TLS_TYPES + "DownstreamTlsContext", "common_tls_context": context}


def _upstream_tls(tls: UpstreamTls | None) -> dict[str, Any] | None:
    if tls is None:
        return None
    context: dict[str, Any] = {"alpn_protocols": ["h2"]}
    if tls.ca_file is not None:
        context["validation_context"] = {"trusted_ca": {"filename": str(tls.ca_file)}}
    if tls.client is not None:
        context["tls_certificates"] = [_certificate(tls.client)]
    return {"@type": _TLS_TYPES + "UpstreamTlsContext", "common_tls_context": context}


def _transport_socket(typed_config: dict[str, Any] | None) -> list[str]:
    """The `transport_socket` line of a TLS context, or no line (plaintext)."""
    if typed_config is None:
        return []
    return [f"transport_socket: {_flow({'name': _TLS_SOCKET, 'typed_config': typed_config})}"]


def _substitute(template: str, blocks: Mapping[str, list[str]], values: Mapping[str, str]) -> str:
    def block(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in blocks:
            return match[0]
        # An empty block leaves an empty line, which YAML ignores.
        return "\n".join(match["indent"] + line for line in blocks[name])

    try:
        return string.Template(_BLOCK_PLACEHOLDER.sub(block, template)).substitute(values)
    except KeyError as exc:
        raise ValueError(f"the template has an unknown placeholder {exc}") from None


def _flow(value: object) -> str:
    # JSON is YAML flow syntax: values are inserted on one line, whatever the indentation around them.
    return json.dumps(value)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
