"""Typed settings: environment variables prefixed ``TIDINGS_`` (and CLI flags for serve)."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.namespaces_file import AppConfig, load_app_config
from api.session import SessionConfig
from domain.namespaces import Namespaces
from domain.values import LARGE_ROOM_MEMBERS

__all__ = ["Settings", "is_loopback", "make_private_dir"]

DEV_SECRET_FILE = "dev-jwt-secret"
MIN_SECRET_BYTES = 32
"""RFC 7518 section 3.2: an HS256 key must be at least as long as the hash (256 bits)."""
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TIDINGS_",
        frozen=True,
        hide_input_in_errors=True,  # a refused secret is never echoed
    )

    mode: Literal["embedded", "distributed"] = Field(
        "embedded",
        description="embedded: SQLite log and projections in data_dir; "
        "distributed: Kafka log, Cassandra projections",
    )
    data_dir: Path = Field(
        Path("./data"), description="Where the embedded log and projections live"
    )
    host: str = "127.0.0.1"
    port: int = 8000

    jwt_secret: str | None = Field(
        None,
        description="HS256 secret; when unset (and no public key), a development secret "
        "is generated in the data directory and `tidings token` uses it",
    )
    jwt_public_key_file: Path | None = Field(None, description="PEM public key for RS256/ES256")
    jwt_jwks_file: Path | None = Field(
        None,
        description="JSON Web Key Set (RSA / EC public keys with a kid): a token is checked "
        "with the key its kid names; re-read when the file changes (key rotation)",
    )
    jwt_algorithms: tuple[str, ...] | None = None
    jwt_audience: str = "tidings"
    jwt_issuer: str = "tidings"
    jwt_leeway_seconds: float = 10.0

    max_session_age_seconds: float = Field(
        7 * 24 * 3600.0,
        gt=0,
        description="A connection may be extended by refresh for at most this long",
    )

    # handshake and HTTP hygiene (docs/security.md)
    allowed_origins: str = Field(
        "",
        description="Comma-separated origins (scheme://host[:port]) whose pages may open a "
        "WebSocket; empty: the server's own origin only; '*': any. Clients that send no "
        "Origin (native apps) are always allowed",
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated Host header values served ('*.example.com' allowed); "
        "empty: loopback names in development mode, any host otherwise",
    )
    max_body_bytes: int = Field(64 * 1024, gt=0, description="Larger REST bodies get 413")
    max_header_bytes: int = Field(16 * 1024, gt=0, description="Larger request heads get 431")
    metrics_token: str | None = Field(
        None, description="When set, /metrics requires Authorization: Bearer <this token>"
    )
    tracing: bool = Field(
        False,
        description="Send OpenTelemetry spans of every command's steps to TIDINGS_OTLP_ENDPOINT "
        "(docs/operations.md, 'Tracing'); needs the tracing extra",
    )
    otlp_endpoint: str = Field(
        "http://127.0.0.1:4318/v1/traces", description="Where spans go (OTLP over HTTP)"
    )
    processor_metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="A processor serves its Prometheus /metrics on this port of "
        "TIDINGS_HOST (gateways serve theirs at /metrics); unset: none",
    )
    mqtt_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Serve MQTT 3.1.1 and 5 over TCP on this port of TIDINGS_HOST "
        "(docs/mqtt.md; 0: any free port); unset: MQTT only over WebSocket at /mqtt",
    )
    mqtt_max_in_flight: int = Field(
        100, ge=1, le=65535, description="QoS 1 messages sent to a device before it PUBACKs"
    )
    api_docs: bool = Field(
        True, description="Serve /docs and /openapi.json (and the server API's under /api)"
    )
    api_key_cache_seconds: float = Field(
        2.0, ge=0, description="A checked API key is trusted this long (a revocation waits it)"
    )
    connect_proxy_url: str | None = Field(
        None,
        description="The app's endpoint that turns a connection's credentials into a user "
        "(docs/server-api.md, Connect proxy); when set, connects without a JWT go to it",
    )
    connect_proxy_secret: str | None = Field(
        None, description="HMAC-SHA256 key the proxy requests are signed with"
    )
    connect_proxy_timeout_seconds: float = Field(2.0, gt=0, le=30)
    tls_certfile: Path | None = Field(None, description="PEM certificate: serve HTTPS and WSS")
    tls_keyfile: Path | None = Field(None, description="PEM private key of the certificate")
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Proxies trusted to set X-Forwarded-For (uvicorn's setting); the "
        "client address they give is the one per-address limits count",
    )

    # limits (token buckets: a rate per second and a burst)
    send_rate: float = Field(20.0, gt=0, description="Writes per second per connection")
    send_burst: int = Field(50, ge=1)
    user_send_rate: float = Field(50.0, gt=0, description="Writes per second per user")
    user_send_burst: int = Field(100, ge=1)
    read_rate: float = Field(20.0, gt=0, description="History reads per second per connection")
    read_burst: int = Field(40, ge=1)
    connect_rate: float = Field(10.0, gt=0, description="Connects per second per address")
    connect_burst: int = Field(50, ge=1)
    max_connections_per_user: int = Field(20, ge=1, description="Per user, per gateway")
    presence_rate: float = Field(
        1.0, gt=0, description="Presence events written per second per user, past the burst"
    )
    presence_burst: int = Field(
        10, ge=1, description="Changes beyond the budget wait and are coalesced"
    )
    max_rate_limited_in_a_row: int = Field(
        100, ge=1, description="A client refused this often in a row is disconnected (4029)"
    )

    max_frame_bytes: int = 64 * 1024
    max_queued_frames: int = 2000
    max_queued_bytes: int = 8 * 1024 * 1024
    catch_up_limit: int = 1000
    flush_interval_ms: float = Field(
        20.0,
        ge=0,
        description="Live pushes are written to sockets at most this often: under load, a "
        "socket gets one write for several events (0: write each batch at once)",
    )
    large_room_members: int = Field(
        LARGE_ROOM_MEMBERS,
        ge=2,
        description="A group room with more members moves from inbox fan-out to a room stream",
    )
    heartbeat_interval_seconds: float = 25.0
    heartbeat_timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 10.0
    presence_grace_seconds: float = 5.0
    history_page_max: int = 200
    log_level: str = "info"

    # distributed mode
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = "tidings"
    partitions: int = Field(4, description="Partitions of the commands, events, inbox topics")
    cassandra_hosts: str = Field("127.0.0.1", description="Comma-separated contact points")
    cassandra_port: int = 9042
    cassandra_keyspace: str = "tidings"
    cassandra_replication_factor: int = 1
    gateway_id: str = Field("", description="Defaults to a random id per gateway process")
    processor_app_id: str = "tidings-projector"
    command_timeout_seconds: float = 10.0
    presence_lease_seconds: float = Field(
        15.0,
        description="A gateway silent this long is dead: another takes its devices offline",
    )

    namespaces_file: Path | None = Field(
        None,
        description="TOML file declaring namespaces and plugin settings (docs/namespaces.md); "
        "unset: one namespace, default, with every feature on",
    )

    @field_validator("namespaces_file")
    @classmethod
    def _readable_namespaces(cls, path: Path | None) -> Path | None:
        load_app_config(path)  # a bad file fails at start, with its problem named
        return path

    @property
    def app_config(self) -> AppConfig:
        return load_app_config(self.namespaces_file)

    @property
    def namespaces(self) -> Namespaces:
        return self.app_config.namespaces

    @field_validator("tracing")
    @classmethod
    def _tracing_installed(cls, on: bool) -> bool:
        if on and importlib.util.find_spec("opentelemetry.sdk") is None:
            raise ValueError(
                "TIDINGS_TRACING needs OpenTelemetry's SDK: pip install 'tidings[tracing]'"
            )
        return on

    @field_validator("jwt_secret")
    @classmethod
    def _strong_secret(cls, secret: str | None) -> str | None:
        if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"TIDINGS_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes "
                f"(got {len(secret.encode())}); generate one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return secret

    @property
    def origins(self) -> tuple[str, ...]:
        return _names(self.allowed_origins)

    @property
    def hosts(self) -> tuple[str, ...]:
        """Host names served; ('*',) for any."""
        if self.allowed_hosts:
            return _names(self.allowed_hosts)
        if self.development_mode:
            return (*LOOPBACK_NAMES, self.host)
        return ("*",)

    def check_listen(self) -> None:
        """A development server mints tokens for anyone who can reach it (``/dev/token``):
        it may listen on loopback only. Raises ValueError otherwise."""
        if self.development_mode and not is_loopback(self.host):
            raise ValueError(
                f"development mode (no TIDINGS_JWT_SECRET, public key or JWKS) listens on "
                f"loopback only, not {self.host}: configure a key to serve other machines"
            )
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("TLS needs both TIDINGS_TLS_CERTFILE and TIDINGS_TLS_KEYFILE")

    @property
    def cassandra_contact_points(self) -> list[str]:
        return [h.strip() for h in self.cassandra_hosts.split(",") if h.strip()]

    @property
    def log_path(self) -> Path:
        return self.data_dir / "log.sqlite"

    @property
    def projections_path(self) -> Path:
        return self.data_dir / "projections.sqlite"

    def session_config(self) -> SessionConfig:
        return SessionConfig(
            heartbeat_interval=self.heartbeat_interval_seconds,
            heartbeat_timeout=self.heartbeat_timeout_seconds,
            connect_timeout=self.connect_timeout_seconds,
            max_queued_frames=self.max_queued_frames,
            max_queued_bytes=self.max_queued_bytes,
            token_leeway=self.jwt_leeway_seconds,
            max_session_age=self.max_session_age_seconds,
        )

    @property
    def local_url(self) -> str:
        """Where a process on this machine reaches this server."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        scheme = "https" if self.tls_certfile else "http"
        return f"{scheme}://{host}:{self.port}"

    def development_secret(self) -> str:
        """The data directory's generated HS256 secret (created on first use, readable by
        its owner only from the first byte)."""
        path = self.data_dir / DEV_SECRET_FILE
        make_private_dir(self.data_dir)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    @property
    def development_mode(self) -> bool:
        """No key was configured: tokens are signed with the data directory's dev secret."""
        return (
            self.jwt_secret is None
            and self.jwt_public_key_file is None
            and self.jwt_jwks_file is None
        )


def make_private_dir(path: Path) -> None:
    """Creates ``path`` (and parents) readable by its owner only, and makes every file this
    process creates from now on owner-only too (umask 077: SQLite's -wal and -shm files
    are created by SQLite itself)."""
    os.umask(0o077)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid == os.getuid():
        path.chmod(0o700)
