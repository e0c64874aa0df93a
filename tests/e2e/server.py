"""Runs real Tidings processes on 127.0.0.1 for end-to-end tests.

``ServerProcess`` is one ``tidings serve`` (embedded). ``DistributedStack`` is one
``tidings processor`` and two ``tidings gateway`` processes on the real Kafka and Cassandra
started by infra/*.sh, with topics and a keyspace of its own. Both offer the same surface:
``ws_url`` / ``http_url`` (the first gateway), ``ws_urls`` (every gateway), ``token(user)``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.auth import mint_token
from tests.infra import CASSANDRA_PORT, KAFKA, delete_topics, drop_keyspace, fresh_name, require

SECRET = "e2e-secret-" + "x" * 40


UNLIMITED = {
    "TIDINGS_SEND_RATE": "100000",
    "TIDINGS_SEND_BURST": "100000",
    "TIDINGS_USER_SEND_RATE": "100000",
    "TIDINGS_USER_SEND_BURST": "100000",
    "TIDINGS_READ_RATE": "100000",
    "TIDINGS_READ_BURST": "100000",
    "TIDINGS_CONNECT_RATE": "100000",
    "TIDINGS_CONNECT_BURST": "100000",
    "TIDINGS_MAX_CONNECTIONS_PER_USER": "100000",
}
"""Most tests drive a server harder than the default rate limits allow; the security tests
(tests/e2e/test_security.py) give the limits they test."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def token(user: str, ttl: int = 3600, namespaces: tuple[str, ...] = ()) -> str:
    return mint_token(
        user,
        secret=SECRET,
        audience="tidings",
        issuer="tidings",
        ttl_seconds=ttl,
        namespaces=namespaces,
    )


class Process:
    """One Tidings process writing its output to a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.env = env
        self.log_path = log_path
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "api.cli", *self.args],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def check_alive(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            raise RuntimeError(f"{self.args[0]} exited: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_ready(url: str, process: Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.check_alive()
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"not ready in {timeout} s: {process.log_path.read_text()[-3000:]}")


class ServerProcess:
    mode = "embedded"

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.mqtt_ports = [free_port()] * 2  # docs/mqtt.md: every server listens
        self.env = {"TIDINGS_JWT_SECRET": SECRET, **UNLIMITED, **(env or {})}
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self.process: Process | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    @property
    def ws_urls(self) -> list[str]:
        return [self.ws_url, self.ws_url]

    @property
    def http_urls(self) -> list[str]:
        return [self.http_url, self.http_url]

    def token(self, user: str, ttl: int = 3600, namespaces: tuple[str, ...] = ()) -> str:
        return token(user, ttl, namespaces)

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.process = Process(
            [
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
                "--mqtt-port",
                str(self.mqtt_ports[0]),
            ],
            self.env,
            self.log_path,
        )
        self.process.start()
        wait_ready(self.http_url, self.process, timeout)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()

    @property
    def cli_env(self) -> dict[str, str]:
        """The environment under which ``tidings`` commands see this server's data."""
        return {**self.env, "TIDINGS_DATA_DIR": str(self.data_dir)}

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def restart(self) -> ServerProcess:
        """Same data directory and port."""
        return self.start()


class DistributedStack:
    mode = "distributed"

    def __init__(self, workdir: Path, env: dict[str, str] | None = None, gateways: int = 2) -> None:
        require("kafka")
        require("cassandra")
        name = fresh_name("e2e")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.env = {
            "TIDINGS_JWT_SECRET": SECRET,
            "TIDINGS_KAFKA_BOOTSTRAP": KAFKA,
            "TIDINGS_CASSANDRA_PORT": str(CASSANDRA_PORT),
            "TIDINGS_TOPIC_PREFIX": name,
            "TIDINGS_CASSANDRA_KEYSPACE": name,
            "TIDINGS_PROCESSOR_APP_ID": f"{name}-projector",
            "TIDINGS_PARTITIONS": "2",
            "TIDINGS_PROCESSOR_METRICS_PORT": str(free_port()),
            **UNLIMITED,
            **(env or {}),
        }
        self.ports = [free_port() for _ in range(gateways)]
        self.mqtt_ports = [free_port() for _ in range(gateways)]
        self.gateways = [
            Process(
                ["gateway", "--port", str(port), "--mqtt-port", str(mqtt_port)],
                self.env,
                workdir / f"gateway-{i}.log",
            )
            for i, (port, mqtt_port) in enumerate(zip(self.ports, self.mqtt_ports, strict=True))
        ]
        self.processor = Process(["processor"], self.env, workdir / "processor.log")

    @property
    def http_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    @property
    def ws_urls(self) -> list[str]:
        return [f"ws://127.0.0.1:{port}/v1/ws" for port in self.ports]

    @property
    def processor_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.env['TIDINGS_PROCESSOR_METRICS_PORT']}/metrics"

    @property
    def http_url(self) -> str:
        return self.http_urls[0]

    @property
    def ws_url(self) -> str:
        return self.ws_urls[0]

    def token(self, user: str, ttl: int = 3600, namespaces: tuple[str, ...] = ()) -> str:
        return token(user, ttl, namespaces)

    def start(self, timeout: float = 90.0) -> DistributedStack:
        migrate = subprocess.run(
            [sys.executable, "-m", "api.cli", "migrate"],
            env={**os.environ, **self.env},
            capture_output=True,
            timeout=120,
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"migrate failed: {migrate.stderr.decode()[-3000:]}")
        self.processor.start()
        for gateway in self.gateways:
            gateway.start()
        for url, gateway in zip(self.http_urls, self.gateways, strict=True):
            wait_ready(url, gateway, timeout)
        self._wait_for_pipeline(timeout)
        return self

    def heal(self, timeout: float = 90.0) -> None:
        """Starts again whatever a test killed and did not restart (it failed half-way), so
        that the next test on a shared stack finds it whole."""
        if self.processor.popen is None or self.processor.popen.poll() is not None:
            self.processor.start()
            self._wait_for_pipeline(timeout)
        for index, gateway in enumerate(self.gateways):
            if gateway.popen is None or gateway.popen.poll() is not None:
                self.start_gateway(index, timeout)

    def start_gateway(self, index: int, timeout: float = 60.0) -> None:
        self.gateways[index].start()
        wait_ready(self.http_urls[index], self.gateways[index], timeout)

    def _wait_for_pipeline(self, timeout: float) -> None:
        """One command through processor and projectors proves the whole pipeline is live."""
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.token('stack-probe')}"}
        while time.monotonic() < deadline:
            self.processor.check_alive()
            try:
                response = httpx.post(
                    f"{self.http_url}/v1/rooms", json={"name": "probe"}, headers=headers, timeout=15
                )
                if response.status_code == 201 and response.json()["role"] == "owner":
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"pipeline not live: {self.processor.log_path.read_text()[-3000:]}")

    @property
    def cli_env(self) -> dict[str, str]:
        return {**self.env, "TIDINGS_MODE": "distributed"}

    def kill_gateway(self, index: int) -> None:
        self.gateways[index].kill()

    def stop(self) -> None:
        for process in [*self.gateways, self.processor]:
            process.stop()
        drop_keyspace(self.env["TIDINGS_CASSANDRA_KEYSPACE"])
        delete_topics(self.env["TIDINGS_TOPIC_PREFIX"])


async def run_cli(
    server: ServerProcess | DistributedStack, *args: str, timeout: float = 300.0
) -> tuple[int, str]:
    """Runs a ``tidings`` command against the server's data, as an operator would; returns
    (exit code, stdout). Exit codes other than 0 and 1 (findings) fail the test."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *args,
        env={**os.environ, **server.cli_env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    if process.returncode not in (0, 1):
        raise AssertionError(f"tidings {' '.join(args)}: {err.decode()[-3000:]}")
    return process.returncode, out.decode()
