"""The systems ``bench/run.py`` measures, each started on 127.0.0.1 with what its users run.

Every system offers the same surface: ``start()``, ``url``, ``pids()`` (every process whose
CPU counts: for distributed Tidings that includes the Kafka and Cassandra JVMs), plans for
the chat and storm workloads (who is in which room, and whether the client joins it itself),
and ``stop()``. Tidings rooms are made over its REST API, as an application would; the peers
keep rooms in memory and are joined by the load generator.

Peers are installed outside the repository, in ``~/.cache/tidings/peers``: Centrifugo
v6.9.1 with ``go install`` and socket.io 4.8 from npm (``bench/load/package.json``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.server import (  # noqa: E402
    SECRET,
    UNLIMITED,
    DistributedStack,
    ServerProcess,
    token,
)

CACHE = Path(os.environ.get("TIDINGS_CACHE", Path.home() / ".cache/tidings"))
PEERS = CACHE / "peers"
CENTRIFUGO_VERSION = "v6.9.1"
LOAD_DIR = ROOT / "bench" / "load"

Plan = list[dict[str, Any]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited ({process.returncode})")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url}: not answering after {timeout} s")


def install_peers() -> None:
    """Builds Centrifugo and installs the Node packages, once."""
    if not (LOAD_DIR / "node_modules" / "socket.io").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=LOAD_DIR, check=True)
    binary = PEERS / "bin" / "centrifugo"
    if not binary.exists():
        (PEERS / "bin").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["go", "install", f"github.com/centrifugal/centrifugo/v6@{CENTRIFUGO_VERSION}"],
            env={**os.environ, "GOBIN": str(PEERS / "bin")},
            check=True,
        )


def pair_plan(clients: int, room_size: int, rooms: list[str], join: bool) -> Plan:
    return [{"user": f"u{i}", "room": rooms[i // room_size], "join": join} for i in range(clients)]


def fanout(room: str, subscribers: list[str], follow: bool) -> Plan:
    """One publisher and many listening subscribers in one room."""
    publisher = {"user": "pub", "room": room, "join": not follow, "follow": follow}
    listeners = [
        {"user": u, "room": room, "join": not follow, "follow": follow, "send": False}
        for u in subscribers
    ]
    return [publisher, *listeners]


class Tidings:
    """Tidings, embedded (one ``tidings serve``) or distributed (processor, gateways, JVMs)."""

    def __init__(self, distributed: bool, workdir: Path) -> None:
        self.name = "tidings-distributed" if distributed else "tidings-embedded"
        self.distributed = distributed
        self.workdir = workdir
        self.stack: ServerProcess | DistributedStack | None = None

    @property
    def secret(self) -> str:
        return SECRET

    def start(self) -> None:
        # Benchmarks measure capacity, not abuse: the rate limits are lifted.
        env = {"TIDINGS_LOG_LEVEL": "warning", **UNLIMITED}
        if self.distributed:
            self.stack = DistributedStack(self.workdir / "dist", env, gateways=2).start()
        else:
            self.stack = ServerProcess(self.workdir / "data", env).start()

    @property
    def url(self) -> str:
        """Every gateway, comma-separated: the load generator spreads clients over them."""
        assert self.stack is not None
        return ",".join(self.stack.http_urls)

    @property
    def rest_url(self) -> str:
        assert self.stack is not None
        return self.stack.http_url

    def pids(self) -> list[int]:
        assert self.stack is not None
        if isinstance(self.stack, ServerProcess):
            assert self.stack.process is not None and self.stack.process.popen is not None
            return [self.stack.process.popen.pid]
        processes = [self.stack.processor, *self.stack.gateways]
        pids = [p.popen.pid for p in processes if p.popen is not None]
        run = Path(os.environ.get("TIDINGS_INFRA_DIR", CACHE / "run"))
        for name in ("kafka/kafka.pid", "cassandra/cassandra.pid"):
            if (run / name).exists():
                pids.append(int((run / name).read_text().strip()))
        return pids

    def _rooms(self, count: int, members: list[list[str]], public: bool) -> list[str]:
        """Creates rooms over REST, the first member of each as owner, the rest added."""

        def make(group: list[str]) -> str:
            headers = {"Authorization": f"Bearer {token(group[0])}"}
            with httpx.Client(base_url=self.rest_url, headers=headers, timeout=60) as http:
                response = http.post("/v1/rooms", json={"name": "bench", "public": public})
                response.raise_for_status()
                room_id: str = response.json()["roomId"]
                for user in group[1:]:
                    http.post(f"/v1/rooms/{room_id}/members", json={"userId": user})
                return room_id

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(make, members[:count]))

    def chat_plan(self, clients: int, room_size: int) -> Plan:
        groups = [
            [f"u{i}" for i in range(r * room_size, (r + 1) * room_size)]
            for r in range(clients // room_size)
        ]
        return pair_plan(clients, room_size, self._rooms(len(groups), groups, False), False)

    def storm_plan(self, clients: int, room_size: int) -> Plan:
        """Public rooms made by a host; each storm client joins one itself."""
        rooms = clients // room_size
        ids = self._rooms(rooms, [[f"host{r % 8}"] for r in range(rooms)], True)
        return [
            {"user": f"s{i}", "room": ids[i // room_size], "join": True} for i in range(clients)
        ]

    def fanout_plan(self, subscribers: int) -> Plan:
        """A channel: "pub" owns it and posts; every subscriber is added, then follows it."""
        headers = {"Authorization": f"Bearer {token('pub')}"}
        with httpx.Client(base_url=self.rest_url, headers=headers, timeout=60) as http:
            response = http.post("/v1/rooms", json={"name": "live", "kind": "channel"})
            response.raise_for_status()
            room_id: str = response.json()["roomId"]

        def add(users: list[str]) -> None:
            with httpx.Client(base_url=self.rest_url, headers=headers, timeout=60) as http:
                for user in users:
                    http.post(
                        f"/v1/rooms/{room_id}/members", json={"userId": user}
                    ).raise_for_status()

        users = [f"f{i}" for i in range(subscribers)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(add, [users[i::8] for i in range(8)]))
        return fanout(room_id, users, follow=True)

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()


class Process:
    def __init__(self, name: str, secret: str, workdir: Path) -> None:
        self.name = name
        self.secret = secret
        self.workdir = workdir
        self.port = free_port()
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return [self.popen.pid] if self.popen is not None else []

    def chat_plan(self, clients: int, room_size: int) -> Plan:
        return pair_plan(clients, room_size, [f"r{i}" for i in range(clients)], True)

    def storm_plan(self, clients: int, room_size: int) -> Plan:
        return [
            {"user": f"s{i}", "room": f"s{i // room_size}", "join": True} for i in range(clients)
        ]

    def fanout_plan(self, subscribers: int) -> Plan:
        return fanout("live", [f"f{i}" for i in range(subscribers)], follow=False)

    def _spawn(self, args: list[str], probe: str) -> None:
        log = (self.workdir / f"{self.name}.log").open("ab")
        self.popen = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        wait_http(f"{self.url}{probe}", self.popen)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()


class Centrifugo(Process):
    """Centrifugo v6.9.1, memory engine, history and recovery on for the room namespace."""

    def start(self) -> None:
        config = {
            "http_server": {"address": "127.0.0.1", "port": self.port},
            "log": {"level": "error"},
            "client": {
                "token": {"hmac_secret_key": self.secret},
                "allowed_origins": ["*"],
            },
            "channel": {
                "namespaces": [
                    {
                        "name": "room",
                        "allow_subscribe_for_client": True,
                        "allow_publish_for_subscriber": True,
                        "history_size": 100,
                        "history_ttl": "300s",
                        "force_recovery": True,
                    }
                ]
            },
        }
        path = self.workdir / "centrifugo.json"
        path.write_text(json.dumps(config))
        binary = PEERS / "bin" / "centrifugo"
        self._spawn([str(binary), "--config", str(path)], "/health")


class SocketIo(Process):
    """Node socket.io 4.8 (bench/load/socketio-server.mjs), in-memory adapter."""

    def start(self) -> None:
        server = LOAD_DIR / "socketio-server.mjs"
        self._spawn(["node", str(server), str(self.port), self.secret], "/socket.io/?EIO=4")


def systems(names: list[str], workdir: Path) -> list[Any]:
    made: dict[str, Any] = {
        "tidings-embedded": lambda: Tidings(False, workdir),
        "tidings-distributed": lambda: Tidings(True, workdir),
        "centrifugo": lambda: Centrifugo("centrifugo", "bench-" + "k" * 40, workdir),
        "socketio": lambda: SocketIo("socketio", "bench-" + "k" * 40, workdir),
    }
    return [made[n]() for n in names]


def run_load(
    system: Any, workload: str, plan: Plan, protocol: str, extra: list[str]
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"clients": plan}, f)
    try:
        out = subprocess.run(
            [
                "node",
                str(LOAD_DIR / "load.mjs"),
                workload,
                "--system",
                protocol,
                "--url",
                system.url,
                "--secret",
                system.secret,
                "--plan",
                f.name,
                "--pids",
                ",".join(map(str, system.pids())),
                *extra,
            ],
            stdout=subprocess.PIPE,
            timeout=900,
            check=True,
        )
    finally:
        os.unlink(f.name)
    result: dict[str, Any] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return result


def node_available() -> bool:
    return shutil.which("node") is not None
