"""Typed settings: environment variables prefixed ``TIDINGS_`` (and CLI flags for serve)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.session import SessionConfig
from domain.values import LARGE_ROOM_MEMBERS

__all__ = ["Settings"]

DEV_SECRET_FILE = "dev-jwt-secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIDINGS_", frozen=True)

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
    jwt_algorithms: tuple[str, ...] | None = None
    jwt_audience: str = "tidings"
    jwt_issuer: str = "tidings"
    jwt_leeway_seconds: float = 10.0

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
        )

    def development_secret(self) -> str:
        """The data directory's generated HS256 secret (created on first use)."""
        path = self.data_dir / DEV_SECRET_FILE
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def development_mode(self) -> bool:
        """No key was configured: tokens are signed with the data directory's dev secret."""
        return self.jwt_secret is None and self.jwt_public_key_file is None
