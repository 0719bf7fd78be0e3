"""The Envoy config template, rendered: Envoy itself validates it; origins, upstreams and files are right."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from throwaway_ca import ThrowawayCa

from tickstock_server.edge.__main__ import main as envoy_command
from tickstock_server.edge.embedded_envoy import validate_envoy_config
from tickstock_server.edge.envoy_config import (
    DEFAULT_TEMPLATE,
    CertificateFiles,
    EnvoyConfig,
    Upstream,
    UpstreamTls,
    parse_upstream,
    render_envoy_config,
)


def _render(**overrides: object) -> str:
    fields: dict[str, object] = {
        "listen_host": "127.0.0.1",
        "listen_port": 8080,
        "admin_port": 9901,
        "upstreams": (Upstream(host="127.0.0.1", port=50051),),
    }
    fields.update(overrides)
    return render_envoy_config(DEFAULT_TEMPLATE.read_text(), EnvoyConfig(**fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {
            "upstreams": (
                Upstream(host="10.0.0.1", port=50051),
                Upstream(host="replica-2.internal", port=50051),
            )
        },
        {"listen_host": "::", "allowed_origins": ("https://app.example.com",)},
    ],
    ids=["default", "replicas", "ipv6-with-origins"],
)
def test_envoy_accepts_the_rendered_config(tmp_path: Path, overrides: dict[str, object]) -> None:
    static = tmp_path / "dist"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>TickStock</title>")
    (static / "app.js").write_text("console.log('hi')")
    config = tmp_path / "envoy.yaml"
    config.write_text(_render(static_dir=static, **overrides))

    assert validate_envoy_config(config) is None


def test_envoy_validation_reports_a_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "envoy.yaml"
    config.write_text(_render().replace("lb_policy: LEAST_REQUEST", "lb_policy: NO_SUCH_POLICY"))

    problem = validate_envoy_config(config)

    assert problem is not None
    assert "NO_SUCH_POLICY" in problem


def test_long_streams_are_never_cut_and_errors_reach_the_browser() -> None:
    config = yaml.safe_load(_render())
    listener = config["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    grpc_route = manager["route_config"]["virtual_hosts"][0]["routes"][-2]
    cors = manager["route_config"]["virtual_hosts"][0]["typed_per_filter_config"]["envoy.filters.http.cors"]

    assert [f["name"] for f in manager["http_filters"]] == [
        "envoy.filters.http.grpc_web",
        "envoy.filters.http.cors",
        "envoy.filters.http.router",
    ]
    assert grpc_route["route"]["timeout"] == "0s"
    assert grpc_route["route"]["max_stream_duration"]["grpc_timeout_header_max"] == "0s"
    # Longer than the longest heartbeat interval a client may ask for (60 s).
    assert manager["stream_idle_timeout"] == "300s"
    assert set(cors["expose_headers"].split(",")) >= {
        "grpc-status",
        "grpc-message",
        "grpc-status-details-bin",
    }
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    assert config["static_resources"]["clusters"][0]["health_checks"][0]["grpc_health_check"] == {}


def test_only_the_own_and_configured_origins_are_allowed_never_a_wildcard_by_default() -> None:
    config = yaml.safe_load(_render(allowed_origins=("https://app.example.com",)))
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    cors = manager["route_config"]["virtual_hosts"][0]["typed_per_filter_config"]["envoy.filters.http.cors"]

    assert cors["allow_origin_string_match"] == [
        {"exact": "http://localhost:8080"},
        {"exact": "http://127.0.0.1:8080"},
        {"exact": "http://[::1]:8080"},
        {"exact": "https://app.example.com"},
    ]


def test_every_upstream_is_an_endpoint_of_one_balanced_cluster() -> None:
    upstreams = (Upstream(host="10.0.0.1", port=50051), Upstream(host="10.0.0.2", port=50052))
    cluster = yaml.safe_load(_render(upstreams=upstreams))["static_resources"]["clusters"][0]

    endpoints = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert [e["endpoint"]["address"]["socket_address"] for e in endpoints] == [
        {"address": "10.0.0.1", "port_value": 50051},
        {"address": "10.0.0.2", "port_value": 50052},
    ]
    assert (cluster["type"], cluster["lb_policy"]) == ("STATIC", "LEAST_REQUEST")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10.0.0.1:50051", Upstream(host="10.0.0.1", port=50051)), ("[::1]:9", Upstream(host="::1", port=9))],
)
def test_upstreams_parse_from_host_and_port(text: str, expected: Upstream) -> None:
    assert parse_upstream(text) == expected


@pytest.mark.parametrize("text", ["10.0.0.1", "host:0", "host:70000", "a b:1", ""])
def test_bad_upstreams_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="host:port|out of range"):
        parse_upstream(text)


def test_the_command_refuses_a_bad_upstream(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        envoy_command(["--upstream", "no-port"])

    assert exited.value.code == 2
    assert "'no-port' is not host:port" in capsys.readouterr().err


_SERVER = CertificateFiles(Path("/etc/tls/web.pem"), Path("/etc/tls/web.key"))
_CLIENT = CertificateFiles(Path("/etc/tls/envoy.pem"), Path("/etc/tls/envoy.key"))


def test_tls_to_browsers_and_to_the_replicas_is_rendered_with_the_given_files(tmp_path: Path) -> None:
    rendered = yaml.safe_load(
        _render(
            downstream_tls=_SERVER,
            upstream_tls=UpstreamTls(ca_file=Path("/etc/tls/ca.pem"), client=_CLIENT),
        )
    )
    listener = rendered["static_resources"]["listeners"][0]
    downstream = listener["filter_chains"][0]["transport_socket"]["typed_config"]["common_tls_context"]
    upstream = rendered["static_resources"]["clusters"][0]["transport_socket"]["typed_config"]
    http = listener["filter_chains"][0]["filters"][0]["typed_config"]
    origins = http["route_config"]["virtual_hosts"][0]["typed_per_filter_config"]

    assert downstream["tls_certificates"] == [
        {
            "certificate_chain": {"filename": "/etc/tls/web.pem"},
            "private_key": {"filename": "/etc/tls/web.key"},
        }
    ]
    assert upstream["common_tls_context"]["validation_context"] == {
        "trusted_ca": {"filename": "/etc/tls/ca.pem"}
    }
    assert upstream["common_tls_context"]["tls_certificates"][0]["certificate_chain"] == {
        "filename": "/etc/tls/envoy.pem"
    }
    assert "https://localhost:8080" in str(origins) and "http://localhost:8080" not in str(origins)


def test_without_tls_nothing_is_encrypted_and_the_own_origin_is_http() -> None:
    rendered = yaml.safe_load(_render())
    listener = rendered["static_resources"]["listeners"][0]

    assert "transport_socket" not in listener["filter_chains"][0]
    assert "transport_socket" not in rendered["static_resources"]["clusters"][0]
    assert "http://localhost:8080" in _render()


def test_envoy_accepts_the_rendered_tls_config(tmp_path: Path) -> None:
    ca = ThrowawayCa(tmp_path)  # Envoy reads the files while it validates
    web, envoy = ca.server("web"), ca.client("envoy")
    config = tmp_path / "envoy.yaml"
    config.write_text(
        _render(
            downstream_tls=CertificateFiles(web.cert_file, web.key_file),
            upstream_tls=UpstreamTls(
                ca_file=ca.cert_file, client=CertificateFiles(envoy.cert_file, envoy.key_file)
            ),
        )
    )

    assert validate_envoy_config(config) is None


def test_the_command_refuses_a_certificate_without_its_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        envoy_command(["--upstream", "127.0.0.1:50051", "--upstream-cert", "envoy.pem"])

    assert exited.value.code == 2
    assert "a certificate needs its key" in capsys.readouterr().err
